#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { errorMessage } from '@docintel/core';
import { startGeminiEmulator } from './gemini';
import { startPineconeEmulator } from './pinecone';
import type { Emulator } from './api';

const USAGE = `usage: node libs/emulators/dist/main.js <gemini|pinecone> [options]
  --port N          API port (default 0: a free one)
  --admin-port N    control port: /__stats, /__faults, /__requests, /__reset (default 0: a free one)
  --host H          address to listen on (default 127.0.0.1)
  --api-key K       require this key (default: accept any)
  --dimension N     pinecone: the index's dimension (default 768)
  --rpm N           requests admitted per minute before 429s (default: no limit)
Prints one JSON line with the URLs once both ports listen; SIGTERM or SIGINT stops it.`;

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

/** Starts the emulator that `argv` names and writes its URLs as one JSON line to `out`. */
export async function run(argv: string[], out: (line: string) => void = (line) => process.stdout.write(line)): Promise<Emulator> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      dimension: { type: 'string' },
      rpm: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const kind = positionals[0];
  if (values.help === true || (kind !== 'gemini' && kind !== 'pinecone') || positionals.length !== 1) throw new Error(USAGE);
  const common = {
    ...(values.host === undefined ? {} : { host: values.host }),
    port: integer('port', values.port) ?? 0,
    adminPort: integer('admin-port', values['admin-port']) ?? 0,
    ...(values['api-key'] === undefined ? {} : { apiKey: values['api-key'] }),
  };
  const dimension = integer('dimension', values.dimension);
  const emulator = kind === 'gemini' ? await startGeminiEmulator(common) : await startPineconeEmulator({ ...common, ...(dimension === undefined ? {} : { dimension }) });
  const rpm = integer('rpm', values.rpm);
  if (rpm !== undefined) await emulator.setFaults({ requestsPerMinute: rpm });
  out(`${JSON.stringify({ emulator: kind, url: emulator.url, adminUrl: emulator.adminUrl, pid: process.pid })}\n`);
  return emulator;
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (emulator) => {
      const stop = () => {
        emulator.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (error: unknown) => {
      process.stderr.write(`${errorMessage(error)}\n`);
      process.exit(2);
    },
  );
}
