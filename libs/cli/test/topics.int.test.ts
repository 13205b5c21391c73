import { allTopics } from '@docintel/contracts';
import { CliContext, run } from '@docintel/cli';
import { deleteTopics } from '@docintel/kafka';
import { uniqueSuffix } from '@docintel/testing';

/** `docintel topics create`, as the Helm chart's setup Job runs it, under a prefix of its own. */
describe('docintel topics create --replication-factor', () => {
  const prefix = `t-cli-rf-${uniqueSuffix()}.`;
  const env = { ...process.env, TOPIC_PREFIX: prefix };
  const lines: string[] = [];

  afterAll(async () => {
    const ctx = new CliContext(env);
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      await deleteTopics(admin, prefix);
    } finally {
      await admin.disconnect();
      await ctx.close();
    }
  });

  test('passes the factor on to the new topics', async () => {
    await run(['topics', 'create', '--partitions', '2', '--replication-factor', '1'], new CliContext(env, (line) => lines.push(line)));
    expect(lines).toEqual([`topics: ${allTopics(prefix, 3).length} created, 0 already there`]);
    const ctx = new CliContext(env);
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: allTopics(prefix, 3) });
      expect(new Set(metadata.topics.flatMap((topic) => topic.partitions.map((p) => p.replicas.length)))).toEqual(new Set([1]));
    } finally {
      await admin.disconnect();
      await ctx.close();
    }
  });

  test.each(['0', '-1', 'two'])('refuses --replication-factor %s before it connects', async (value) => {
    await expect(run(['topics', 'create', `--replication-factor=${value}`], new CliContext(env, () => undefined))).rejects.toThrow(
      `--replication-factor must be a positive whole number, got "${value}"`,
    );
  });
});
