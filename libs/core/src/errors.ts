import { describeServerError, isServerError, type ServerError } from './sqlstate';

/**
 * Every error the pipeline raises on purpose is a {@link DocintelError}: it carries a stable
 * `code` (from {@link ERROR_CODES}) and a `retriable` decision. The consumer runner decides
 * between retry, dead-letter and crash from these two fields alone, walking the `cause` chain,
 * never from message text.
 */
export const ERROR_CODES = [
  // input: never retried
  'INVALID_JSON',
  'SCHEMA_INVALID',
  'TENANT_MISMATCH',
  'DOCUMENT_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'CORRUPT_DOCUMENT',
  'EMPTY_DOCUMENT',
  // a document passed a parsing limit (memory, time, decompression, extracted text)
  'PARSE_LIMIT',
  'DIMENSION_MISMATCH',
  'INVALID_OPTIONS',
  /** The message was in flight when its consumer's process died, more than once: it is set aside unhandled. */
  'POISON_CRASH',
  // dependencies, and rows a tenant's application has not committed yet: retried
  'DOCUMENT_NOT_FOUND',
  'DOCUMENT_NOT_READY',
  'DATABASE_UNAVAILABLE',
  'EMBEDDING_FAILED',
  'EMBEDDING_RATE_LIMITED',
  'VECTOR_STORE_FAILED',
  'KAFKA_UNAVAILABLE',
  'CIRCUIT_OPEN',
  'TIMEOUT',
  // the process itself
  'CONFIG_INVALID',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface DocintelErrorOptions {
  /** Whether trying the same work again later may succeed. @default false */
  retriable?: boolean;
  cause?: unknown;
  /** Extra fields for logs; never put secrets here. */
  details?: Record<string, unknown>;
}

export class DocintelError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DocintelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/** A failure of the input itself: trying again cannot help, so it goes straight to the DLQ. */
export class PermanentError extends DocintelError {
  constructor(code: ErrorCode, message: string, options: Omit<DocintelErrorOptions, 'retriable'> = {}) {
    super(code, message, { ...options, retriable: false });
  }
}

/** A failure of a dependency that may pass: the message moves to the next retry tier. */
export class TransientError extends DocintelError {
  constructor(code: ErrorCode, message: string, options: Omit<DocintelErrorOptions, 'retriable'> = {}) {
    super(code, message, { ...options, retriable: true });
  }
}

/** A configuration value is missing or malformed; the message names the variable. */
export class ConfigError extends DocintelError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('CONFIG_INVALID', `${variable}: ${message}`);
    this.variable = variable;
  }
}

export interface ErrorClassification {
  code: ErrorCode;
  retriable: boolean;
  errorClass: string;
  /** Our own words: this goes into `x-error-message` headers and status rows. */
  message: string;
  /** The text of an error that was reworded (a database server's message, which can quote row values): for logs only. */
  logDetail?: string;
}

/**
 * Finds the first {@link DocintelError} in the cause chain and reports its decision. An error we
 * did not raise ourselves (a bug, a library's TypeError) is `INTERNAL` and retriable: a retry tier
 * costs little, and the DLQ still catches it if it keeps happening. When that error is (or is
 * caused by) a PostgreSQL server error, its message is ours, e.g. `database error 22003
 * (numeric_value_out_of_range) while handling the message`, and the server's text, which can quote
 * the values of a row, is kept only in `logDetail`. `action` completes that sentence.
 */
export function classifyError(error: unknown, action = 'handling the message'): ErrorClassification {
  let current: unknown = error;
  let serverError: (Error & ServerError) | undefined;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (current instanceof DocintelError) {
      return { code: current.code, retriable: current.retriable, errorClass: current.name, message: current.message };
    }
    if (serverError === undefined && isServerError(current)) serverError = current;
    current = current instanceof Error ? current.cause : undefined;
  }
  if (serverError) {
    return { code: 'INTERNAL', retriable: true, errorClass: 'DatabaseError', message: describeServerError(serverError, action), logDetail: serverError.message };
  }
  const asError = error instanceof Error ? error : new Error(String(error));
  return { code: 'INTERNAL', retriable: true, errorClass: asError.name, message: asError.message };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
