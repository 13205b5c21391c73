/**
 * A parse process: reads PDF, DOCX and HTML documents for fetch, one at a time, and sends their
 * blocks back a window at a time, each when asked. fetch (parse-pool.ts) starts a few of these,
 * watches each one's memory and time, and kills one that passes its limits; nothing a document
 * does here can take more than that, or take fetch itself down. Started with fork() and an IPC
 * channel; it ends when the channel does, and kills itself if fetch dies while it is busy.
 */
import { Worker } from 'node:worker_threads';
import { DocintelError } from '@docintel/core';
import type { Block } from './blocks';
import { decodeHtml, docxBlocks, htmlBlocks } from './html';
import { loadPdfReader, pdfBlocks } from './pdf';
import { WINDOW_CHARS, type ChildMessage, type ParentMessage, type SerializedError } from './parse-protocol';

const send = (message: ChildMessage): void => {
  process.send?.(message);
};

let blocks: AsyncIterator<Block> | undefined;

async function handle(message: ParentMessage): Promise<void> {
  if (message.type === 'parse') {
    const content = Buffer.from(message.content.buffer, message.content.byteOffset, message.content.byteLength);
    const source = message.format === 'pdf' ? pdfBlocks(content) : message.format === 'docx' ? docxBlocks(content, message.limits) : html(content, message.charset);
    blocks = source[Symbol.asyncIterator]();
  }
  if (blocks === undefined) return;
  const window: Block[] = [];
  let chars = 0;
  try {
    while (chars < WINDOW_CHARS) {
      const next = await blocks.next();
      if (next.done === true) {
        blocks = undefined;
        send({ type: 'window', blocks: window, done: true });
        return;
      }
      window.push(next.value);
      chars += next.value.text.length;
    }
    send({ type: 'window', blocks: window, done: false });
  } catch (error) {
    blocks = undefined;
    send({ type: 'failed', error: serialize(error) });
  }
}

async function* html(content: Buffer, charset: string | undefined): AsyncGenerator<Block> {
  yield* htmlBlocks(decodeHtml(content, charset));
}

function serialize(error: unknown): SerializedError {
  if (error instanceof DocintelError) {
    return { name: error.name, message: error.message, code: error.code, retriable: error.retriable, ...(error.details ? { details: error.details } : {}) };
  }
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

// Messages are handled one after the other; fetch sends the next only after an answer anyway.
let queue = Promise.resolve();
process.on('message', (message: ParentMessage) => {
  queue = queue.then(() => handle(message)).catch((error: unknown) => send({ type: 'failed', error: serialize(error) }));
});
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: fetch finishes its documents on it, so their parse
// processes must stay until fetch lets them go (the channel closes, or a SIGKILL).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);

// While a document keeps this thread busy, 'disconnect' cannot run: a thread of its own ends the
// process if fetch goes away (SIGKILL, a crash) and it is orphaned.
new Worker(
  `const { workerData } = require('node:worker_threads');
   setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 500);`,
  { eval: true, workerData: process.ppid, resourceLimits: { maxOldGenerationSizeMb: 8 } },
).unref();

loadPdfReader().then(
  () => send({ type: 'ready' }),
  (error: unknown) => {
    console.error('the parse process cannot load pdf.js:', error);
    process.exit(1);
  },
);
