import type { IncomingHttpHeaders } from 'node:http';
import type { Faults } from './faults';

/** One API request as an emulator's endpoint sees it. */
export interface ApiRequest {
  method: string;
  /** The URL path, without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when the body is empty. */
  body: unknown;
  /** Size of the raw body. */
  bytes: number;
}

/** What an endpoint answers. */
export interface ApiReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The service-specific part of an emulator: its routes, error format and data. */
export interface EmulatorApi {
  /** Header names (lower case) whose values are secrets: recorded requests show them as `<redacted>`. */
  readonly secretHeaders: readonly string[];
  /** The endpoint a request addresses, or undefined for an unknown route (answered 404). */
  endpoint(method: string, path: string): string | undefined;
  handle(endpoint: string, request: ApiRequest): ApiReply;
  /** An error reply's body in the service's own format; `details` come from {@link ApiFailure.details}. */
  errorBody(status: number, message: string, extra?: { retryAfterSeconds?: number; details?: unknown[] }): unknown;
  /** The emulator's own counters (texts embedded, vectors stored, ...). */
  counters(): Record<string, number>;
  /** Forgets every piece of data. */
  reset(): void;
}

/** A request the emulator served, kept for tests to look at (the last `recordLimit`). */
export interface RecordedRequest {
  at: string;
  endpoint: string;
  method: string;
  path: string;
  query: Record<string, string[]>;
  /** Secret headers are `<redacted>`. */
  headers: Record<string, string>;
  body: unknown;
  /** 0 for a request that was never answered (an injected timeout). */
  status: number;
  /** The injected fault, if any. */
  fault?: 'timeout' | 'rate-limited' | 'requests-per-minute' | 'server-error';
}

/** Request counts of an emulator since its start or last reset. */
export interface EmulatorStats {
  requests: number;
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
  /** Requests per wall-clock minute (the last 60 minutes that saw any), oldest first. */
  perMinute: Array<{ minute: string; requests: number }>;
  injected: { rateLimited: number; requestsPerMinuteLimited: number; serverErrors: number; timeouts: number };
  counters: Record<string, number>;
}

/** What every emulator offers, whichever service it speaks. */
export interface Emulator {
  /** `http://127.0.0.1:<port>`: the API. */
  readonly url: string;
  readonly port: number;
  /** The control endpoints (`/__stats`, `/__faults`, `/__requests`, `/__reset`) on a port that stays up while the API is `down`. */
  readonly adminUrl: string;
  readonly adminPort: number;
  stats(): EmulatorStats;
  /** The last requests served, oldest first. */
  requests(): RecordedRequest[];
  faults(): Faults;
  /** Merges `faults` into the current ones; resolves once a `down` change has taken effect. */
  setFaults(faults: Partial<Faults>): Promise<Faults>;
  /** Clears data, counts, recorded requests and faults (bringing the API back up if it was down). */
  reset(): Promise<void>;
  /** Stops both ports and drops every connection. Idempotent. */
  close(): Promise<void>;
}

/** Options every emulator takes. */
export interface EmulatorServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** The API port; 0 picks a free one. @default 0 */
  port?: number;
  /** The control port; 0 picks a free one. @default 0 */
  adminPort?: number;
  /** Requests kept for {@link Emulator.requests}. @default 50 */
  recordLimit?: number;
  /** Larger bodies are answered 413. @default 33_554_432 (32 MiB) */
  maxBodyBytes?: number;
}

/** Thrown by an endpoint to answer with an error status in the service's own format. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Service-specific error details (e.g. Google's ErrorInfo). */
    readonly details?: unknown[],
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}
