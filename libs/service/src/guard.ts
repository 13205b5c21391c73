import { classifyError } from '@docintel/core';
import type { KafkaMessage } from 'kafkajs';

/** The PostgreSQL breaker counts lost connections only; a failing statement is not an outage. */
export function isDatabaseOutage(error: unknown): boolean {
  return classifyError(error).code === 'DATABASE_UNAVAILABLE';
}

/** Every query through a guard (the breaker), with connection failures turned into DATABASE_UNAVAILABLE. */
export { guardQueryable } from '@docintel/db';

/**
 * The document a raw message is about, as an ordering key for concurrent handling; a value that
 * cannot be read shares the empty key (it goes to the DLQ anyway).
 */
export function documentOf(message: KafkaMessage): string {
  try {
    const documentId = (JSON.parse(message.value?.toString('utf8') ?? '') as { documentId?: unknown }).documentId;
    return typeof documentId === 'string' ? documentId : '';
  } catch {
    return '';
  }
}
