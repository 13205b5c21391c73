import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { DocintelError, ERROR_CODES, PermanentError, TransientError, type ErrorCode } from '@docintel/core';
import type { Block } from './blocks';
import { DEFAULT_PARSE_POOL, OUT_OF_MEMORY, parseLimit, type ParsePoolOptions } from './limits';
import type { ChildMessage, ParentMessage, PooledFormat, SerializedError } from './parse-protocol';
import type { InflateLimits } from './zip';

/** How often a parse process's resident set is sampled. */
const SAMPLE_EVERY_MS = 50;
/** A process that has not said it is ready by then is killed. */
const START_TIMEOUT_MS = 60_000;
/** A process is replaced after this many documents, or when it keeps half its memory limit between two. */
const MAX_DOCUMENTS_PER_PROCESS = 500;

/** From source (jest runs src/) the child is compiled as it loads; built, it is dist/parse-child.js. */
const FROM_SOURCE = path.extname(__filename) === '.ts';
const CHILD_FILE = path.join(__dirname, FROM_SOURCE ? 'parse-child.ts' : 'parse-child.js');
const SOURCE_LOADER = path.join(__dirname, 'parse-child-from-source.cjs');

export interface ParsePoolStats {
  /** Processes alive now, and started since the pool was made. */
  processes: number;
  started: number;
  /** Processes killed for passing a limit. */
  killed: number;
  /** The largest resident set seen of any parse process, in bytes, since the last {@link ParsePool.takePeakRss}. */
  peakRssBytes: number;
  /** Documents waiting for a process. */
  queued: number;
}

/**
 * A few parse processes shared by every partition of the service. A document gets a process of
 * its own for as long as it is read (waiting its turn when all are busy); the process's resident
 * set is sampled every {@link SAMPLE_EVERY_MS} ms from /proc, so memory pdf.js or zlib allocate
 * outside the V8 heap counts too, and its working time is measured from each request to the
 * answer. A process that passes either limit is killed at once, the document fails with
 * PARSE_LIMIT, and a new process starts in its place: a hostile document costs the other tenants
 * at most its own time limit. Processes start when documents first need them, not before.
 */
export class ParsePool {
  readonly options: Readonly<ParsePoolOptions>;
  readonly #processes = new Set<ParseProcess>();
  readonly #idle: ParseProcess[] = [];
  readonly #waiting: { resolve: (worker: ParseProcess) => void; reject: (error: Error) => void }[] = [];
  #closed = false;
  #started = 0;
  #killed = 0;
  #peakRss = 0;

  readonly #execArgv: readonly string[];

  /**
   * @param options the limits
   * @param execArgv more Node options for the parse processes (tests load a fault injector with
   *   `--require`); their heap limit is always set from `options.memoryMb`
   */
  constructor(options: Partial<ParsePoolOptions> = {}, execArgv: readonly string[] = []) {
    this.options = { ...DEFAULT_PARSE_POOL, ...options };
    this.#execArgv = execArgv;
    const { workers, memoryMb, timeoutMs } = this.options;
    if (!(Number.isInteger(workers) && workers > 0 && Number.isInteger(memoryMb) && memoryMb > 0 && Number.isInteger(timeoutMs) && timeoutMs > 0)) {
      throw new PermanentError('INVALID_OPTIONS', `parse pool options must be positive whole numbers, got ${JSON.stringify(this.options)}`);
    }
  }

  /**
   * The blocks of one document, read in a parse process a window at a time: the next window is
   * read while the blocks of this one are used. Stopping early (return, or an error downstream)
   * kills the process, which is busy with a window nobody will read.
   *
   * @param charset the `charset` parameter of the document's mime type (HTML)
   * @throws PermanentError PARSE_LIMIT (memory, time), or the parser's own errors
   *   (CORRUPT_DOCUMENT, ...); TransientError INTERNAL when a process dies for another reason
   *   (a crash: not the document's fault); a parser's runtime fault (a TypeError) as an Error of
   *   that name, which is INTERNAL too
   */
  async *parse(format: PooledFormat, content: Buffer, limits: InflateLimits, charset?: string): AsyncGenerator<Block> {
    const worker = await this.#acquire();
    let idle = false;
    try {
      worker.request({ type: 'parse', format, content, limits: { maxDecompressedBytes: limits.maxDecompressedBytes, maxDecompressionRatio: limits.maxDecompressionRatio }, ...(charset === undefined ? {} : { charset }) });
      for (;;) {
        const message = await worker.answer();
        if (message.type === 'failed') {
          idle = true;
          throw this.#revive(message.error);
        }
        if (message.type !== 'window') throw new Error(`a parse process answered ${message.type} out of turn`);
        if (message.done) idle = true;
        else worker.request({ type: 'next' });
        yield* message.blocks;
        if (message.done) return;
      }
    } finally {
      this.#release(worker, idle);
    }
  }

  /** An error from a parse process as the error it was there; an allocation that failed there is its memory limit. */
  #revive(error: SerializedError): Error {
    if (error.code !== undefined && (ERROR_CODES as readonly string[]).includes(error.code)) {
      const options = error.details === undefined ? {} : { details: error.details };
      return error.retriable === true ? new TransientError(error.code as ErrorCode, error.message, options) : new PermanentError(error.code as ErrorCode, error.message, options);
    }
    if (OUT_OF_MEMORY.test(error.message)) {
      const { memoryMb } = this.options;
      return parseLimit('PARSE_MEMORY_MB', memoryMb, `parsing the document needed more than the limit of ${memoryMb} MB of memory (PARSE_MEMORY_MB): ${error.message}`);
    }
    const revived = new Error(error.message);
    revived.name = error.name;
    return revived;
  }

  stats(): ParsePoolStats {
    return { processes: this.#processes.size, started: this.#started, killed: this.#killed, peakRssBytes: this.#peakRss, queued: this.#waiting.length };
  }

  /** The largest resident set of a parse process since the last call, in bytes; starts over. */
  takePeakRss(): number {
    const peak = this.#peakRss;
    this.#peakRss = 0;
    return peak;
  }

  /** Kills every process; documents under way fail, and later ones are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(new TransientError('INTERNAL', 'the parse pool is closed'));
    const processes = [...this.#processes];
    await Promise.all(processes.map((worker) => worker.kill()));
  }

  async #acquire(): Promise<ParseProcess> {
    if (this.#closed) throw new TransientError('INTERNAL', 'the parse pool is closed');
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      idle.lease();
      return idle;
    }
    const waiting = new Promise<ParseProcess>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    if (this.#processes.size < this.options.workers) this.#start();
    return waiting;
  }

  /** A new process; once it is ready, it serves the first document waiting, or waits itself. */
  #start(): void {
    this.#started += 1;
    const worker: ParseProcess = new ParseProcess(this.options, this.#execArgv, {
      rss: (bytes) => (this.#peakRss = Math.max(this.#peakRss, bytes)),
      killed: () => (this.#killed += 1),
      exited: () => {
        this.#processes.delete(worker);
        const at = this.#idle.indexOf(worker);
        if (at !== -1) this.#idle.splice(at, 1);
        // Replaced at once, so the next document does not wait for a start; unless it never
        // started: then only a document waiting for it gets another try.
        if (!this.#closed && (this.#waiting.length > 0 || worker.started)) this.#start();
      },
    });
    this.#processes.add(worker);
    worker.lease();
    worker.ready.then(
      () => this.#offer(worker),
      (error: Error) => this.#waiting.shift()?.reject(error),
    );
  }

  #release(worker: ParseProcess, idle: boolean): void {
    if (!worker.alive) return;
    if (!idle || worker.documents >= MAX_DOCUMENTS_PER_PROCESS || worker.rss > (this.options.memoryMb * 1024 * 1024) / 2) {
      // Busy with a window nobody will read, or worn: a new process is cheaper than waiting.
      void worker.kill();
      return;
    }
    this.#offer(worker);
  }

  /** A ready process: to the first document waiting, else idle. */
  #offer(worker: ParseProcess): void {
    if (!worker.alive) return;
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) {
      worker.lease();
      waiter.resolve(worker);
      return;
    }
    worker.rest();
    this.#idle.push(worker);
  }
}

interface ProcessEvents {
  rss(bytes: number): void;
  killed(): void;
  exited(): void;
}

/** One parse process: its channel, its watchdog, and the time its current document has taken. */
class ParseProcess {
  readonly ready: Promise<void>;
  /** Documents started in it. */
  documents = 0;
  /** Whether it ever said it was ready. */
  started = false;
  /** Its resident set at the last sample, in bytes. */
  rss = 0;
  readonly #child: ChildProcess;
  readonly #options: Readonly<ParsePoolOptions>;
  readonly #events: ProcessEvents;
  readonly #exited: Promise<void>;
  readonly #sampler: NodeJS.Timeout;
  #inbox: ChildMessage[] = [];
  #waiting: { resolve: (message: ChildMessage) => void; reject: (error: Error) => void } | undefined;
  /** Why it was killed, or died; every later answer() rejects with it. */
  #failure: Error | undefined;
  #stderr = '';
  #alive = true;
  /** Working time of the current document so far, and since when it has been working on a request. */
  #spentMs = 0;
  #since: number | undefined;
  #deadline: NodeJS.Timeout | undefined;

  constructor(options: Readonly<ParsePoolOptions>, execArgv: readonly string[], events: ProcessEvents) {
    this.#options = options;
    this.#events = events;
    this.#child = fork(FROM_SOURCE ? SOURCE_LOADER : CHILD_FILE, FROM_SOURCE ? [CHILD_FILE] : [], {
      // Not fetch's own flags (an inspector port, jest's): the heap limit, and nothing else.
      execArgv: [...execArgv, `--max-old-space-size=${options.memoryMb}`],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-4096);
    });
    // 'close', not 'exit': by then its stderr (a heap out of memory says so there) has been read.
    this.#exited = new Promise((resolve) => this.#child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve(this.#onExit(code, signal))));
    this.#child.on('error', () => undefined); // a failed spawn also exits
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new TransientError('INTERNAL', `a parse process did not start within ${START_TIMEOUT_MS} ms`));
        void this.kill();
      }, START_TIMEOUT_MS);
      this.#child.once('message', () => {
        clearTimeout(timer);
        this.started = true;
        resolve();
      });
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(this.#failure ?? new Error('a parse process exited before it was ready'));
      });
    });
    this.ready.catch(() => undefined);
    this.#child.on('message', (message: ChildMessage) => this.#receive(message));
    this.#sampler = setInterval(() => this.#sample(), SAMPLE_EVERY_MS).unref();
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Sends a request; its answer is awaited with {@link answer}, and the time until it counts. */
  request(message: ParentMessage): void {
    if (message.type === 'parse') {
      this.documents += 1;
      this.#spentMs = 0;
      this.#inbox = [];
    }
    if (!this.#alive) return;
    this.#since = Date.now();
    const left = Math.max(0, this.#options.timeoutMs - this.#spentMs);
    this.#deadline = setTimeout(() => {
      const { timeoutMs } = this.#options;
      this.#fail(parseLimit('PARSE_TIMEOUT_MS', timeoutMs, `parsing the document took longer than the limit of ${timeoutMs} ms (PARSE_TIMEOUT_MS)`));
    }, left);
    this.#child.send(message);
  }

  /** The next answer, in order; rejects once the process was killed or died. */
  answer(): Promise<ChildMessage> {
    const message = this.#inbox.shift();
    if (message !== undefined) return Promise.resolve(message);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  /** A document is about to use it: it keeps fetch alive while it works. */
  lease(): void {
    this.#child.ref();
    this.#child.channel?.ref();
    (this.#child.stderr as Socket).ref();
  }

  /** Idle: it must not keep fetch (or a test) from exiting. */
  rest(): void {
    this.#child.unref();
    this.#child.channel?.unref();
    (this.#child.stderr as Socket).unref();
  }

  /** SIGKILL; resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.#alive) {
      this.lease(); // an idle process is unref'd: the exit must still be waited for
      this.#child.kill('SIGKILL');
    }
    await this.#exited;
  }

  #receive(message: ChildMessage): void {
    if (message.type === 'ready') return;
    if (this.#since !== undefined) this.#spentMs += Date.now() - this.#since;
    this.#since = undefined;
    clearTimeout(this.#deadline);
    if (this.#waiting !== undefined) {
      this.#waiting.resolve(message);
      this.#waiting = undefined;
    } else {
      this.#inbox.push(message);
    }
  }

  #sample(): void {
    if (!this.#alive || this.#child.pid === undefined) return;
    const rss = residentBytes(this.#child.pid);
    if (rss === undefined) return;
    this.rss = rss;
    this.#events.rss(rss);
    const { memoryMb } = this.#options;
    if (rss > memoryMb * 1024 * 1024) {
      this.#fail(
        parseLimit('PARSE_MEMORY_MB', memoryMb, `parsing the document needed more than the limit of ${memoryMb} MB of memory (PARSE_MEMORY_MB); its process reached ${Math.round(rss / 1024 / 1024)} MB`),
      );
    }
  }

  /** Kills it for a limit: the document under way fails with `error`. */
  #fail(error: Error): void {
    if (!this.#alive || this.#failure !== undefined) return;
    this.#failure = error;
    this.#events.killed();
    this.#reject(error);
    this.#child.kill('SIGKILL');
  }

  #reject(error: Error): void {
    this.#waiting?.reject(error);
    this.#waiting = undefined;
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#alive = false;
    clearInterval(this.#sampler);
    clearTimeout(this.#deadline);
    if (this.#failure === undefined) {
      const { memoryMb } = this.#options;
      this.#failure = /heap out of memory|Reached heap limit/.test(this.#stderr)
        ? parseLimit('PARSE_MEMORY_MB', memoryMb, `parsing the document needed more than the limit of ${memoryMb} MB of memory (PARSE_MEMORY_MB): its process ran out of heap`)
        : new TransientError('INTERNAL', `a parse process exited (${signal ?? `code ${code}`})${this.#stderr.trim() === '' ? '' : `: ${this.#stderr.trim().split('\n').slice(-3).join(' ')}`}`);
      if (this.#failure instanceof DocintelError && this.#failure.code === 'PARSE_LIMIT') this.#events.killed();
    }
    this.#reject(this.#failure);
    this.#events.exited();
  }
}

/** The resident set of a process, from /proc (Linux); undefined where there is none. */
function residentBytes(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
