import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ALL_ON_VALUES, CHART, helm, templateArgs } from './helpers/helm';

describe('helm lint', () => {
  test.each([
    ['the default values', []],
    ['every optional part on', ['--values', ALL_ON_VALUES]],
  ])('passes with %s (--strict)', (_label, args) => {
    const result = helm(['lint', '--strict', CHART, ...args]);
    expect({ status: result.status, output: result.stdout + result.stderr }).toEqual({ status: 0, output: expect.stringContaining('0 chart(s) failed') });
  });
});

describe('values.schema.json', () => {
  test('covers every top-level value of values.yaml, each of which has a comment', () => {
    const schema = JSON.parse(readFileSync(`${CHART}/values.schema.json`, 'utf8')) as { properties: Record<string, unknown> };
    const values = parse(readFileSync(`${CHART}/values.yaml`, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(values).filter((key) => !(key in schema.properties))).toEqual([]);
    // Every top-level value has a comment right above it (nested ones have theirs, or their block's).
    const lines = readFileSync(`${CHART}/values.yaml`, 'utf8').split('\n');
    const undocumented = lines.filter((line, i) => /^[a-zA-Z]+:/.test(line) && !(lines[i - 1] ?? '').startsWith('#'));
    expect(undocumented).toEqual([]);
  });

  test.each([
    ['a negative replica count', { set: ['replicas.fetch=-1'] }, '/replicas/fetch'],
    ['more than one store replica on LanceDB', { set: ['replicas.store=2'] }, '/replicas/store'],
    ['a string where a number belongs', { setString: ['setup.partitions=12'] }, '/setup/partitions'],
    ['a replication factor of 0', { set: ['setup.replicationFactor=0'] }, '/setup/replicationFactor'],
    ['a boolean that is not one', { setString: ['keda.enabled=yes'] }, '/keda/enabled'],
    ['an unknown embedding provider', { set: ['embedding.provider=openai'] }, '/embedding/provider'],
    ['a broker without a port', { set: ['kafka.brokers=kafka'] }, '/kafka/brokers'],
    ['a topic prefix the services reject', { set: ['kafka.topicPrefix=a/b'] }, '/kafka/topicPrefix'],
    ['SASL without credentials', { set: ['kafka.sasl.enabled=true'] }, '/kafka/sasl'],
    ['a log level the services reject', { set: ['config.logLevel=loud'] }, '/config/logLevel'],
    ['more retry delays than topics create makes tiers', { set: ['config.retryDelaysMs={1,2,3,4}'] }, '/config/retryDelaysMs'],
    ['a misspelt value', { set: ['replica.fetch=2'] }, 'replica'],
  ])('rejects %s', (_label, flags, where) => {
    const result = templateArgs(flags);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(where);
  });

  test.each([
    ['a Gemini provider without its key', ['embedding.provider=gemini'], 'embedding.gemini.apiKey or embedding.gemini.existingSecret is required'],
    ['a Pinecone store without its index', ['vectorStore.kind=pinecone', 'vectorStore.pinecone.apiKey=k'], 'vectorStore.pinecone.index or vectorStore.pinecone.indexHost is required'],
  ])('stops on %s with a message that says what to set', (_label, set, message) => {
    const result = templateArgs({ set });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  test('accepts several store replicas on Pinecone', () => {
    const result = templateArgs({ set: ['replicas.store=3', 'vectorStore.kind=pinecone', 'vectorStore.pinecone.apiKey=k', 'vectorStore.pinecone.indexHost=docs-abc.svc.pinecone.io'] });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
