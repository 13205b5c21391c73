import { PermanentError } from '@docintel/core';
import type { z } from 'zod';
import { HEADERS, SCHEMA_VERSION, type HeaderMap } from './headers';

/** What every validated value has: the tenant it belongs to. */
interface Tenanted {
  tenantId: string;
}

/**
 * Parses and validates one message value. Throws a non-retriable error naming what was wrong:
 * `INVALID_JSON`, `SCHEMA_INVALID` (with the failing fields), or `TENANT_MISMATCH` when the key,
 * the `tenant-id` header and the value disagree about the tenant.
 */
export function decodeMessage<S extends z.ZodType<Tenanted>>(
  schema: S,
  value: Buffer | null,
  key: string | undefined,
  headers: HeaderMap,
): z.infer<S> {
  if (value === null || value.length === 0) throw new PermanentError('INVALID_JSON', 'message has no value');
  const version = headers[HEADERS.schemaVersion];
  if (version !== undefined && version !== SCHEMA_VERSION) {
    throw new PermanentError('SCHEMA_INVALID', `unsupported schema-version "${version}" (this build reads ${SCHEMA_VERSION})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new PermanentError('INVALID_JSON', `value is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.length ? issue.path.join('.') : '(value)'}: ${issue.message}`)
      .join('; ');
    throw new PermanentError('SCHEMA_INVALID', `value does not match its schema: ${issues}`);
  }
  const data = parsed.data;
  const headerTenant = headers[HEADERS.tenantId];
  if (key !== undefined && key !== data.tenantId) {
    throw new PermanentError('TENANT_MISMATCH', `message key "${key}" is not the value's tenant "${data.tenantId}"`);
  }
  if (headerTenant !== undefined && headerTenant !== data.tenantId) {
    throw new PermanentError('TENANT_MISMATCH', `tenant-id header "${headerTenant}" is not the value's tenant "${data.tenantId}"`);
  }
  return data;
}

/** Serialises a value the same way everywhere. */
export function encodeMessage(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
