/**
 * Messages between fetch (parse-pool.ts) and its parse processes (parse-child.ts), over the
 * processes' IPC channel with Node's advanced serialization (structured clone: buffers travel as
 * bytes, not JSON).
 */
import type { Block } from './blocks';
import type { InflateLimits } from './zip';

/** The formats read in a parse process; text formats are read in fetch itself, a window at a time. */
export type PooledFormat = 'pdf' | 'docx' | 'html';

export type ParentMessage =
  /** One document; the child answers with its first window. */
  | {
      type: 'parse';
      format: PooledFormat;
      content: Uint8Array;
      limits: InflateLimits;
      /** The `charset` parameter of the document's mime type, if it has one (HTML). */
      charset?: string;
    }
  /** The next window of the document under way. */
  | { type: 'next' };

export type ChildMessage =
  /** Sent once, when everything a parse needs is loaded: a start-up is not counted against a document. */
  | { type: 'ready' }
  /** The next blocks of the document, about {@link WINDOW_CHARS} characters of them; `done` after the last. */
  | { type: 'window'; blocks: Block[]; done: boolean }
  /** The document failed; the process is ready for the next one. */
  | { type: 'failed'; error: SerializedError };

/** An error as it crosses the channel: a DocintelError's fields, or another error's name and message. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  retriable?: boolean;
  details?: Record<string, unknown>;
}

/** Characters of text per window: small enough to hold a few, large enough for few messages. */
export const WINDOW_CHARS = 256 * 1024;
