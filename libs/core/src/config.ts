import { ConfigError } from './errors';

/**
 * Small typed readers over an environment map. Each service has one `loadConfig(env)` that calls
 * these once at start; a bad value throws a {@link ConfigError} naming the variable.
 */
export type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function envString(env: Env, name: string, fallback?: string): string {
  const value = raw(env, name) ?? fallback;
  if (value === undefined) throw new ConfigError(name, 'is required but not set');
  return value;
}

export function envOptional(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function envInt(
  env: Env,
  name: string,
  fallback: number,
  bounds: { min?: number; max?: number } = {},
): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (!/^-?\d+$/.test(text)) throw new ConfigError(name, `must be a whole number, got "${text}"`);
  const value = Number(text);
  if (bounds.min !== undefined && value < bounds.min) throw new ConfigError(name, `must be at least ${bounds.min}, got ${value}`);
  if (bounds.max !== undefined && value > bounds.max) throw new ConfigError(name, `must be at most ${bounds.max}, got ${value}`);
  return value;
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name)?.toLowerCase();
  if (text === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(name, `must be true or false, got "${text}"`);
}

export function envEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${text}"`);
  }
  return text as T;
}

/** A comma-separated list of whole numbers, e.g. retry delays in milliseconds. */
export function envIntList(env: Env, name: string, fallback: readonly number[], min = 0): number[] {
  const text = raw(env, name);
  if (text === undefined) return [...fallback];
  const parts = text.split(',').map((part) => part.trim());
  return parts.map((part) => {
    if (!/^\d+$/.test(part)) throw new ConfigError(name, `must be a comma-separated list of whole numbers, got "${text}"`);
    const value = Number(part);
    if (value < min) throw new ConfigError(name, `every value must be at least ${min}, got ${value}`);
    return value;
  });
}

/** A comma-separated list of non-empty strings, e.g. broker addresses. */
export function envList(env: Env, name: string, fallback: readonly string[]): string[] {
  const text = raw(env, name);
  if (text === undefined) return [...fallback];
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new ConfigError(name, 'must list at least one value');
  return parts;
}

/** A share from 0 to 1 (e.g. a fault-injection rate). */
export function envFraction(env: Env, name: string, fallback: number): number {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new ConfigError(name, `must be a number from 0 to 1, got "${text}"`);
  return value;
}
