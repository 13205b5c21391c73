import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, isSecretKey } from '../src/logger';

describe('isSecretKey', () => {
  it.each([
    'password', 'KAFKA_SASL_PASSWORD', 'saslPassword', 'passwd', 'pass', 'secret', 'signing_secret', 'webhookSecret',
    'apiKey', 'api_key', 'x-goog-api-key', 'GEMINI_API_KEY', 'PINECONE_API_KEY', 'apikey', 'authorization', 'Authorization',
    'credentials', 'token', 'accessToken', 'refresh_token', 'cookie',
  ])('%s is a secret', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(['tokens', 'tokensUsed', 'tenantDailyTokenBudget', 'TENANT_DAILY_TOKEN_BUDGETS', 'tokenBudget', 'maxTokens', 'username', 'passage', 'keyspace', 'mechanism', 'compass'])(
    '%s is not a secret',
    (key) => {
      expect(isSecretKey(key)).toBe(false);
    },
  );
});

describe('createLogger', () => {
  it('masks secrets by name and leaves counts of tokens alone', () => {
    const lines: string[] = [];
    const logger = createLogger({ service: 'test' });
    logger.clear();
    logger.add(
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk: Buffer, _encoding, done) {
            lines.push(chunk.toString('utf8'));
            done();
          },
        }),
      }),
    );
    logger.info('spent', {
      tokens: 1234,
      tenantDailyTokenBudget: 2_000_000,
      apiKey: 'AIza-not-to-be-seen',
      sasl: { mechanism: 'scram-sha-512', username: 'docintel', password: 'hunter2' },
      database: 'postgres://svc:hunter2@db:5432/docintel',
    });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      message: 'spent',
      tokens: 1234,
      tenantDailyTokenBudget: 2_000_000,
      apiKey: '***',
      sasl: { mechanism: 'scram-sha-512', username: 'docintel', password: '***' },
      database: 'postgres://svc:***@db:5432/docintel',
    });
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('AIza');
  });
});
