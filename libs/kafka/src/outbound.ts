import { HEADERS, SCHEMA_VERSION, encodeMessage, type HeaderMap } from '@docintel/contracts';
import type { Message, Producer, TopicMessages } from 'kafkajs';

/** A message a handler wants produced; the key is the tenant id, always. */
export interface OutboundMessage {
  topic: string;
  key: string;
  /** An object (serialised as JSON) or raw bytes (forwarded as they are, e.g. to a retry tier). */
  value: unknown;
  headers?: HeaderMap;
}

/** Adds the headers every message carries: tenant id, trace id and schema version. */
export function withStandardHeaders(message: OutboundMessage, traceId: string): Message {
  const headers: HeaderMap = {
    [HEADERS.schemaVersion]: SCHEMA_VERSION,
    ...message.headers,
    [HEADERS.tenantId]: message.key,
    [HEADERS.traceId]: message.headers?.[HEADERS.traceId] ?? traceId,
  };
  const value = Buffer.isBuffer(message.value) ? message.value : encodeMessage(message.value);
  return { key: message.key, value, headers };
}

/**
 * Bytes of message values sent in one produce request. Kafka rejects a record batch over the
 * topic's `max.message.bytes` (1 MB by default), and kafkajs puts every message of one request
 * bound for the same partition into one record batch, so requests are kept well below that.
 */
export const MAX_REQUEST_BYTES = 700 * 1024;

function sizeOf(message: Message): number {
  const value = message.value;
  const valueBytes = value === null || value === undefined ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
  return valueBytes + 512; // key, headers and record overhead, generously
}

/**
 * Sends messages in order, in as few requests as the size bound allows; resolves when every one
 * is acknowledged by all in-sync replicas.
 */
export async function sendAll(producer: Producer, messages: Array<{ topic: string; message: Message }>): Promise<void> {
  let group: Array<{ topic: string; message: Message }> = [];
  let bytes = 0;
  for (const item of messages) {
    const size = sizeOf(item.message);
    if (group.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      await sendGroup(producer, group);
      group = [];
      bytes = 0;
    }
    group.push(item);
    bytes += size;
  }
  await sendGroup(producer, group);
}

async function sendGroup(producer: Producer, messages: Array<{ topic: string; message: Message }>): Promise<void> {
  if (messages.length === 0) return;
  const byTopic = new Map<string, Message[]>();
  for (const { topic, message } of messages) {
    const list = byTopic.get(topic);
    if (list) list.push(message);
    else byTopic.set(topic, [message]);
  }
  const topicMessages: TopicMessages[] = [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
  await producer.sendBatch({ topicMessages, acks: -1 });
}
