// Unit tests: <workspace>/test/**/*.test.ts. Integration tests (real Kafka broker, real
// PostgreSQL): <workspace>/test/**/*.int.test.ts; their global setup starts the local broker (and
// their global teardown stops it, unless it was running before).
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.check.json' }] },
  moduleNameMapper: { '^@docintel/([a-z-]+)$': '<rootDir>/libs/$1/src' },
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/scripts'],
};

/** @type {import('jest').Config} */
module.exports = {
  reporters: ['default', '<rootDir>/libs/testing/jest-summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/test/**/*.test.ts'], testPathIgnorePatterns: ['\\.(int|slow)\\.test\\.ts$', '/node_modules/', '/dist/'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['**/test/**/*.int.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/'],
      globalSetup: '<rootDir>/libs/testing/jest-global-setup.js',
      globalTeardown: '<rootDir>/libs/testing/jest-global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/libs/testing/jest-integration-setup.js'],
    },
    {
      // Minutes long (provider outages, per-minute budgets): `npm run test:slow`, not `npm test`.
      ...common,
      displayName: 'slow',
      testMatch: ['**/test/**/*.slow.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/dist/'],
      globalSetup: '<rootDir>/libs/testing/jest-global-setup.js',
      globalTeardown: '<rootDir>/libs/testing/jest-global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/libs/testing/jest-slow-setup.js'],
    },
  ],
};
