import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DocintelError, errorMessage } from '@docintel/core';
import { ApiFailure, type ApiReply, type Emulator, type EmulatorApi, type EmulatorServerOptions, type EmulatorStats, type RecordedRequest } from './api';
import { FaultPlan, parseFaults, type Faults } from './faults';

/** The HTTP side shared by the emulators: two listeners, faults, counting, recording. */
export class EmulatorServer implements Emulator {
  readonly #api: EmulatorApi;
  readonly #host: string;
  readonly #recordLimit: number;
  readonly #maxBodyBytes: number;
  readonly #plan = new FaultPlan();
  readonly #apiServer: http.Server;
  readonly #admin: http.Server;
  /** Answers waiting out injected latency or a hang; close() ends them. */
  readonly #timers = new Set<NodeJS.Timeout>();
  #recorded: RecordedRequest[] = [];
  #stats = emptyStats();
  #minutes = new Map<number, number>();
  #listening = false;
  /** A `down`/`up` switch under way; switches run one after another. */
  #switching: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;
  port = 0;
  adminPort = 0;

  private constructor(api: EmulatorApi, options: EmulatorServerOptions) {
    this.#api = api;
    this.#host = options.host ?? '127.0.0.1';
    this.#recordLimit = options.recordLimit ?? 50;
    this.#maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
    this.#apiServer = http.createServer((req, res) => void this.#serve(req, res, false));
    this.#admin = http.createServer((req, res) => void this.#serve(req, res, true));
  }

  /** Starts both listeners. */
  static async start(api: EmulatorApi, options: EmulatorServerOptions = {}): Promise<EmulatorServer> {
    const server = new EmulatorServer(api, options);
    server.port = await listen(server.#apiServer, options.port ?? 0, server.#host);
    server.#listening = true;
    try {
      server.adminPort = await listen(server.#admin, options.adminPort ?? 0, server.#host);
    } catch (error) {
      server.#apiServer.close();
      throw error;
    }
    return server;
  }

  get url(): string {
    return `http://${this.#host}:${this.port}`;
  }

  get adminUrl(): string {
    return `http://${this.#host}:${this.adminPort}`;
  }

  stats(): EmulatorStats {
    const perMinute = [...this.#minutes.entries()].sort(([a], [b]) => a - b).map(([minute, requests]) => ({ minute: new Date(minute * 60_000).toISOString(), requests }));
    return { ...structuredClone(this.#stats), perMinute, counters: this.#api.counters() };
  }

  requests(): RecordedRequest[] {
    return [...this.#recorded];
  }

  faults(): Faults {
    return this.#plan.current;
  }

  async setFaults(faults: Partial<Faults>): Promise<Faults> {
    const current = this.#plan.set(parseFaults(faults));
    await this.#switch(current.down);
    return this.#plan.current;
  }

  async reset(): Promise<void> {
    this.#plan.reset();
    this.#api.reset();
    this.#recorded = [];
    this.#stats = emptyStats();
    this.#minutes.clear();
    await this.#switch(false);
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#switching;
    await Promise.all([this.#listening ? stop(this.#apiServer) : undefined, stop(this.#admin)]);
    this.#listening = false;
  }

  /** Brings the API listener down (stop listening, drop connections) or back up on the same port. */
  #switch(down: boolean): Promise<void> {
    this.#switching = this.#switching.then(async () => {
      if (this.#closed !== undefined || down !== this.#listening) return;
      if (down) {
        this.#listening = false;
        await stop(this.#apiServer);
      } else {
        await listen(this.#apiServer, this.port, this.#host);
        this.#listening = true;
      }
    });
    return this.#switching;
  }

  async #serve(req: IncomingMessage, res: ServerResponse, admin: boolean): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname.startsWith('/__')) {
        await this.#control(req, res, url.pathname);
      } else if (admin) {
        send(res, { status: 404, body: { error: `no control endpoint ${url.pathname}` } });
      } else {
        await this.#apiRequest(req, res, url);
      }
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      const status = error instanceof ApiFailure ? error.status : error instanceof DocintelError ? 400 : 500;
      send(res, { status, body: { error: errorMessage(error) } });
    }
  }

  async #control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method ?? 'GET'} ${path}`;
    switch (route) {
      case 'GET /__stats':
        return send(res, { status: 200, body: this.stats() });
      case 'GET /__requests':
        return send(res, { status: 200, body: this.requests() });
      case 'GET /__faults':
        return send(res, { status: 200, body: this.faults() });
      case 'GET /__health':
        return send(res, { status: 200, body: { ok: true, down: !this.#listening } });
      case 'POST /__reset':
        await this.reset();
        return send(res, { status: 200, body: { ok: true } });
      case 'POST /__faults': {
        const faults = parseFaults(await readJson(req, this.#maxBodyBytes));
        if (faults.down === true && req.socket.localPort === this.port) {
          // Asked on the API port itself: answer first, or the switch would cut this very answer.
          this.#plan.set(faults);
          res.once('finish', () => void this.#switch(true));
          return send(res, { status: 200, body: this.faults() });
        }
        return send(res, { status: 200, body: await this.setFaults(faults) });
      }
      default:
        return send(res, { status: 404, body: { error: `no control endpoint ${route}` } });
    }
  }

  async #apiRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const endpoint = this.#api.endpoint(method, url.pathname);
    if (endpoint === undefined) {
      send(res, { status: 404, body: this.#api.errorBody(404, `no route ${method} ${url.pathname}`) });
      return;
    }
    this.#count(endpoint);
    const raw = await readBody(req, this.#maxBodyBytes).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    const record: RecordedRequest = {
      at: new Date().toISOString(),
      endpoint,
      method,
      path: url.pathname,
      query: queryRecord(url.searchParams),
      headers: this.#headers(req.headers),
      body: undefined,
      status: 0,
    };
    this.#record(record);
    const decision = this.#plan.decide(Date.now());
    const faults = this.#plan.current;
    if (decision.kind === 'timeout') {
      record.fault = 'timeout';
      this.#stats.injected.timeouts++;
      // Never answered: the client's own timeout (or the hang's end, or close) ends it.
      if (faults.hangMs > 0) this.#after(faults.hangMs, () => res.destroy());
      return;
    }
    if (faults.latencyMs > 0) await new Promise<void>((resolve) => this.#after(faults.latencyMs, resolve));
    if (res.destroyed) return;
    let reply: ApiReply;
    if (decision.kind === 'rate-limited') {
      const injected = decision.reason === 'injected';
      record.fault = injected ? 'rate-limited' : 'requests-per-minute';
      if (injected) this.#stats.injected.rateLimited++;
      else this.#stats.injected.requestsPerMinuteLimited++;
      const message = injected ? 'Resource has been exhausted (injected by the emulator).' : `Quota exceeded: more than ${faults.requestsPerMinute} requests per minute.`;
      reply = {
        status: 429,
        headers: { 'retry-after': String(Math.ceil(decision.retryAfterSeconds)) },
        body: this.#api.errorBody(429, message, { retryAfterSeconds: decision.retryAfterSeconds }),
      };
    } else if (decision.kind === 'server-error') {
      record.fault = 'server-error';
      this.#stats.injected.serverErrors++;
      reply = { status: decision.status, body: this.#api.errorBody(decision.status, 'The service is currently unavailable (injected by the emulator).') };
    } else {
      reply = this.#handle(endpoint, req, url, raw, record);
    }
    record.status = reply.status;
    this.#stats.byStatus[reply.status] = (this.#stats.byStatus[reply.status] ?? 0) + 1;
    send(res, reply);
  }

  /** Parses the body and lets the endpoint answer; an {@link ApiFailure} becomes the service's error reply. */
  #handle(endpoint: string, req: IncomingMessage, url: URL, raw: Buffer | Error, record: RecordedRequest): ApiReply {
    try {
      if (raw instanceof Error) throw raw;
      try {
        record.body = raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ApiFailure(400, 'the request body is not valid JSON');
      }
      return this.#api.handle(endpoint, { method: record.method, path: url.pathname, query: url.searchParams, headers: req.headers, body: record.body, bytes: raw.length });
    } catch (error) {
      if (error instanceof ApiFailure) return { status: error.status, body: this.#api.errorBody(error.status, error.message, error.details === undefined ? {} : { details: error.details }) };
      return { status: 500, body: this.#api.errorBody(500, errorMessage(error)) };
    }
  }

  #after(ms: number, done: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      done();
    }, ms);
    this.#timers.add(timer);
  }

  #count(endpoint: string): void {
    this.#stats.requests++;
    this.#stats.byEndpoint[endpoint] = (this.#stats.byEndpoint[endpoint] ?? 0) + 1;
    const minute = Math.floor(Date.now() / 60_000);
    this.#minutes.set(minute, (this.#minutes.get(minute) ?? 0) + 1);
    for (const key of this.#minutes.keys()) if (key <= minute - 60) this.#minutes.delete(key);
  }

  #record(record: RecordedRequest): void {
    this.#recorded.push(record);
    if (this.#recorded.length > this.#recordLimit) this.#recorded.shift();
  }

  #headers(headers: IncomingHttpHeaders): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      out[name] = this.#api.secretHeaders.includes(name) ? '<redacted>' : Array.isArray(value) ? value.join(', ') : value;
    }
    return out;
  }
}

function emptyStats(): Omit<EmulatorStats, 'perMinute' | 'counters'> {
  return { requests: 0, byEndpoint: {}, byStatus: {}, injected: { rateLimited: 0, requestsPerMinuteLimited: 0, serverErrors: 0, timeouts: 0 } };
}

function queryRecord(params: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, value] of params) (out[key] ??= []).push(value);
  return out;
}

async function listen(server: http.Server, port: number, host: string): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Stops listening and destroys every connection, keep-alive ones included, so clients see the refusal at once. */
async function stop(server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

function send(res: ServerResponse, reply: ApiReply): void {
  if (res.destroyed || res.headersSent) return;
  const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body), ...reply.headers });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiFailure(413, `the request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const raw = await readBody(req, limit);
  try {
    return raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiFailure(400, 'the request body is not valid JSON');
  }
}
