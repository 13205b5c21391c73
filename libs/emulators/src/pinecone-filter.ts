import { ApiFailure } from './api';

/** A metadata value Pinecone stores: string, number, boolean or list of strings. */
export type MetadataValue = string | number | boolean | string[];
export type Metadata = Record<string, MetadataValue>;

const COMPARISONS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists']);

/**
 * Whether `metadata` matches a Pinecone metadata filter: `{ field: value }` (equality),
 * `{ field: { $eq|$ne|$gt|$gte|$lt|$lte|$in|$nin|$exists: ... } }`, `$and` and `$or`. A list
 * value matches `$eq`/`$in` when any of its items does, as in Pinecone.
 */
export function matchesFilter(metadata: Metadata | undefined, filter: unknown): boolean {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new ApiFailure(400, 'filter must be an object');
  return Object.entries(filter).every(([key, condition]) => {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(condition) || condition.length === 0) throw new ApiFailure(400, `${key} takes a non-empty list of filters`);
      const results = condition.map((part) => matchesFilter(metadata, part));
      return key === '$and' ? results.every(Boolean) : results.some(Boolean);
    }
    if (key.startsWith('$')) throw new ApiFailure(400, `unsupported filter operator ${key}`);
    const operators: Array<[string, unknown]> = typeof condition === 'object' && condition !== null && !Array.isArray(condition) ? Object.entries(condition as Record<string, unknown>) : [['$eq', condition]];
    return operators.every(([operator, operand]) => compare(metadata?.[key], operator, operand));
  });
}

function compare(value: MetadataValue | undefined, operator: string, operand: unknown): boolean {
  if (!COMPARISONS.has(operator)) throw new ApiFailure(400, `unsupported filter operator ${operator}`);
  const values: unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
  switch (operator) {
    case '$exists':
      return (value !== undefined) === Boolean(operand);
    case '$eq':
      return values.includes(operand);
    case '$ne':
      return !values.includes(operand);
    case '$in':
    case '$nin': {
      if (!Array.isArray(operand)) throw new ApiFailure(400, `${operator} takes a list`);
      const found = values.some((item) => operand.includes(item));
      return operator === '$in' ? found : !found;
    }
    default: {
      if (typeof operand !== 'number') throw new ApiFailure(400, `${operator} takes a number`);
      return values.some((item) => typeof item === 'number' && ordered(item, operator, operand));
    }
  }
}

function ordered(item: number, operator: string, operand: number): boolean {
  if (operator === '$gt') return item > operand;
  if (operator === '$gte') return item >= operand;
  if (operator === '$lt') return item < operand;
  return item <= operand;
}

/** Checks metadata as Pinecone does on upsert; returns its size in bytes (as JSON). */
export function checkMetadata(id: string, metadata: unknown, limitBytes: number): number {
  if (metadata === undefined) return 0;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new ApiFailure(400, `Metadata of vector ${id} must be an object`);
  for (const [key, value] of Object.entries(metadata)) {
    const ok =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (Array.isArray(value) && value.every((item) => typeof item === 'string'));
    if (!ok) throw new ApiFailure(400, `Metadata value for key ${JSON.stringify(key)} of vector ${id} must be a string, number, boolean or list of strings`);
  }
  const size = Buffer.byteLength(JSON.stringify(metadata));
  if (size > limitBytes) throw new ApiFailure(400, `Metadata size is ${size} bytes, which exceeds the limit of ${limitBytes} bytes per vector`);
  return size;
}
