import { PermanentError } from '@docintel/core';
import type { z } from 'zod';
import { HEADERS, SCHEMA_VERSION, type HeaderMap } from './headers';
import { DOCUMENT_ID_PATTERN, TENANT_ID_PATTERN } from './ids';
import { MAX_STORED_INTEGER } from './messages';

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

/** The document a message names, as far as it can be read from a value that failed validation. */
export interface NamedDocument {
  tenantId: string;
  documentId: string;
  /** Left out when the value's version is missing or not a version (an integer from 1 that the database holds). */
  version?: number;
}

/**
 * Reads the tenant, document and version a raw value names, without its schema: for a message
 * that failed validation, so that its document's status can say why. Only ids that match their
 * patterns count, and only when the key and the `tenant-id` header (those present) are that
 * tenant; anything else is undefined. What it returns is a claim, not a fact: whoever acts on it
 * must check that the document exists and belongs to the tenant.
 */
export function namedDocument(value: Buffer | null, key: string | undefined, headers: HeaderMap): NamedDocument | undefined {
  if (value === null || value.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { tenantId, documentId, version } = json as Record<string, unknown>;
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) return undefined;
  if (typeof documentId !== 'string' || !DOCUMENT_ID_PATTERN.test(documentId)) return undefined;
  if (key !== undefined && key !== tenantId) return undefined;
  const headerTenant = headers[HEADERS.tenantId];
  if (headerTenant !== undefined && headerTenant !== tenantId) return undefined;
  const valid = typeof version === 'number' && Number.isInteger(version) && version >= 1 && version <= MAX_STORED_INTEGER;
  return valid ? { tenantId, documentId, version } : { tenantId, documentId };
}

/** Serialises a value the same way everywhere. */
export function encodeMessage(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
