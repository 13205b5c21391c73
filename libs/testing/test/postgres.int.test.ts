import { existsSync } from 'node:fs';
import { createPool } from '@docintel/db';
import { eventually, startPostgresCluster, testLogger, type PostgresCluster } from '@docintel/testing';

describe('startPostgresCluster', () => {
  let cluster: PostgresCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('starts a server of its own, restarts it, and removes it on stop', async () => {
    cluster = await startPostgresCluster();
    const pool = createPool(cluster.url(), { max: 2, logger: testLogger() });
    try {
      const port = async () => (await pool.query<{ port: string }>('show port')).rows[0]!.port;
      expect(await port()).toBe(String(cluster.port));
      for (const mode of ['fast', 'immediate'] as const) {
        expect(await cluster.restart(mode)).toBeGreaterThan(0);
        // The pool's connections died with the old server; a new one is opened.
        await eventually(port, { timeoutMs: 10_000, description: `a query after a ${mode} restart` });
      }
    } finally {
      await pool.end();
    }
    const { dir } = cluster;
    await cluster.stop();
    await cluster.stop();
    expect(existsSync(dir)).toBe(false);
  });
});
