import winston from 'winston';

export type Logger = winston.Logger;

/** Keys whose values are replaced before a log line is written. */
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|credential/i;
/** user:password@ in connection strings. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi;

export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@');
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '***' : redactValue(item, depth + 1);
  }
  return out;
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const value = info[key];
    info[key] = SECRET_KEY.test(key) ? '***' : redactValue(value, 0);
  }
  if (typeof info.message === 'string') info.message = redactText(info.message);
  return info;
});

export interface LoggerOptions {
  service: string;
  /** @default 'info' */
  level?: string;
  /** Write every line to stderr (a CLI keeps stdout for its output). @default false */
  stderr?: boolean;
}

/**
 * JSON lines on stdout. Call `logger.child({ tenantId, documentId, traceId })` per message so
 * every line of its work carries the three ids.
 */
export function createLogger(options: LoggerOptions): Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { service: options.service },
    format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
    transports: [new winston.transports.Console(options.stderr ? { stderrLevels: Object.keys(winston.config.npm.levels) } : {})],
  });
}
