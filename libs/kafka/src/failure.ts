import { type ErrorClassification } from '@docintel/core';
import { ERROR_MESSAGE_LIMIT, HEADERS, dlqTopic, retryTopic, type HeaderMap } from '@docintel/contracts';

export interface FailedMessage {
  /** The topic the service consumes (not a retry tier). */
  sourceTopic: string;
  /** Where this copy was read from: the source topic or one of its retry tiers. */
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  headers: HeaderMap;
  groupId: string;
}

export interface Routing {
  topic: string;
  headers: HeaderMap;
  kind: 'retry' | 'dlq';
  /** The tier the message goes to (retry only). */
  tier?: number;
}

/** The retry tier a message was read from: 0 for the main topic. */
export function attemptOf(headers: HeaderMap): number {
  const attempt = Number(headers[HEADERS.attempt] ?? '0');
  return Number.isInteger(attempt) && attempt > 0 ? attempt : 0;
}

/**
 * Decides where a failed message goes next and builds its headers: the next retry tier while the
 * error is retriable and tiers remain, else the DLQ. The first failure's origin is kept; the last
 * error replaces the previous one.
 */
export function routeFailure(
  failed: FailedMessage,
  error: ErrorClassification,
  retryDelaysMs: readonly number[],
  now = Date.now(),
): Routing {
  const attempt = attemptOf(failed.headers);
  const headers: HeaderMap = { ...failed.headers };
  const keep = (name: string, value: string) => {
    if (headers[name] === undefined) headers[name] = value;
  };
  keep(HEADERS.originalTopic, failed.topic);
  keep(HEADERS.originalPartition, String(failed.partition));
  keep(HEADERS.originalOffset, failed.offset);
  keep(HEADERS.originalTimestamp, failed.timestamp);
  keep(HEADERS.originalGroup, failed.groupId);
  keep(HEADERS.firstFailedAt, String(now));
  headers[HEADERS.errorCode] = error.code;
  headers[HEADERS.errorClass] = error.errorClass;
  headers[HEADERS.errorMessage] = truncate(error.message, ERROR_MESSAGE_LIMIT);
  headers[HEADERS.errorRetriable] = String(error.retriable);

  const nextTier = attempt + 1;
  const delay = retryDelaysMs[nextTier - 1];
  if (error.retriable && delay !== undefined) {
    headers[HEADERS.attempt] = String(nextTier);
    headers[HEADERS.retryDueAt] = String(now + delay);
    return { topic: retryTopic(failed.sourceTopic, nextTier), headers, kind: 'retry', tier: nextTier };
  }
  delete headers[HEADERS.retryDueAt];
  return { topic: dlqTopic(failed.sourceTopic), headers, kind: 'dlq' };
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
