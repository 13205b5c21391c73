/** Header names of the design; every value is a string. */
export const HEADERS = {
  tenantId: 'tenant-id',
  traceId: 'trace-id',
  schemaVersion: 'schema-version',
  // added on retry
  attempt: 'x-attempt',
  retryDueAt: 'x-retry-due-at',
  firstFailedAt: 'x-first-failed-at',
  // added on retry and DLQ: the first failure's origin is kept, the last error replaces the previous
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
  originalTimestamp: 'x-original-timestamp',
  originalGroup: 'x-original-group',
  errorCode: 'x-error-code',
  errorClass: 'x-error-class',
  errorMessage: 'x-error-message',
  errorRetriable: 'x-error-retriable',
  // added by a replay
  replayedAt: 'x-replayed-at',
  replayedFrom: 'x-replayed-from',
} as const;

export type HeaderMap = Record<string, string>;

/** The version of the message values this build writes and reads. */
export const SCHEMA_VERSION = '1';

/** Longest `x-error-message` kept, in characters. */
export const ERROR_MESSAGE_LIMIT = 1_000;

type RawHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined;

/** Kafka header values arrive as Buffers (or arrays of them); the design only uses single strings. */
export function readHeaders(raw: RawHeaders): HeaderMap {
  const out: HeaderMap = {};
  if (!raw) return out;
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const single = Array.isArray(value) ? value[value.length - 1] : value;
    if (single === undefined) continue;
    out[key] = typeof single === 'string' ? single : single.toString('utf8');
  }
  return out;
}
