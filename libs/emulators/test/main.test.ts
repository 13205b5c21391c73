import { run } from '../src/main';

describe('emulators main', () => {
  it('starts the named emulator and prints its URLs as one JSON line', async () => {
    const lines: string[] = [];
    const emulator = await run(['pinecone', '--dimension', '8', '--rpm', '5', '--api-key', 'k'], (line) => lines.push(line));
    try {
      expect(JSON.parse(lines.join(''))).toEqual({ emulator: 'pinecone', url: emulator.url, adminUrl: emulator.adminUrl, pid: process.pid });
      expect(emulator.faults().requestsPerMinute).toBe(5);
      const stats = await fetch(`${emulator.url}/describe_index_stats`, { method: 'POST', headers: { 'api-key': 'k' }, body: '{}' });
      expect(await stats.json()).toMatchObject({ dimension: 8 });
    } finally {
      await emulator.close();
    }
  });

  it('explains its usage on bad arguments', async () => {
    await expect(run(['nope'], () => undefined)).rejects.toThrow(/usage: node libs\/emulators\/dist\/main.js <gemini\|pinecone>/);
    await expect(run(['gemini', '--port', 'x'], () => undefined)).rejects.toThrow(/--port must be a whole number/);
  });
});
