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

/** Groups messages by topic and sends them in one request set; resolves when all are durable. */
export async function sendAll(producer: Producer, messages: Array<{ topic: string; message: Message }>): Promise<void> {
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
