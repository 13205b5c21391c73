import winston from 'winston';

export type Logger = winston.Logger;

/** Words of a key that name a secret wherever they stand in it (`saslPassword`, `signing_secret`). */
const SECRET_WORDS = new Set(['password', 'passwd', 'pass', 'secret', 'secrets', 'authorization', 'credential', 'credentials', 'apikey', 'cookie']);

/**
 * Whether a log field's key names a secret, whose value is replaced before the line is written: by
 * the key's words (split at camelCase, `_`, `-`, `.` and spaces), so that `password`, `apiKey`,
 * `x-goog-api-key`, `KAFKA_SASL_PASSWORD`, `accessToken` and `token` are secrets, and counts such as
 * `tokens`, `tokensUsed` or `tenantDailyTokenBudget` are not. A token is a secret when it is what the
 * key names (its last word), not when the key counts or limits tokens.
 */
export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  if (words.some((word, i) => word === 'api' && words[i + 1] === 'key')) return true;
  return words[words.length - 1] === 'token';
}
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
    out[key] = isSecretKey(key) ? '***' : redactValue(item, depth + 1);
  }
  return out;
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const value = info[key];
    info[key] = isSecretKey(key) ? '***' : redactValue(value, 0);
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
