/** The four topics of the design; every name may carry a prefix (several environments on one cluster). */
export const BASE_TOPICS = {
  ingest: 'document.ingest',
  chunks: 'document.chunks',
  vectors: 'document.vectors',
  status: 'document.status',
} as const;

export type TopicRole = keyof typeof BASE_TOPICS;

export interface TopicNames {
  ingest: string;
  chunks: string;
  vectors: string;
  status: string;
}

export function topicNames(prefix = ''): TopicNames {
  return {
    ingest: prefix + BASE_TOPICS.ingest,
    chunks: prefix + BASE_TOPICS.chunks,
    vectors: prefix + BASE_TOPICS.vectors,
    status: prefix + BASE_TOPICS.status,
  };
}

/** `<topic>.retry.<n>`, tiers counted from 1. */
export function retryTopic(topic: string, tier: number): string {
  return `${topic}.retry.${tier}`;
}

export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** Every topic of the design: the main topics, `tiers` retry tiers of each, and a DLQ of each. */
export function allTopics(prefix: string, tiers: number): string[] {
  const names: string[] = [];
  const main = topicNames(prefix);
  for (const topic of [main.ingest, main.chunks, main.vectors, main.status]) {
    names.push(topic);
    for (let tier = 1; tier <= tiers; tier++) names.push(retryTopic(topic, tier));
    names.push(dlqTopic(topic));
  }
  return names;
}

/** Undoes {@link retryTopic} / {@link dlqTopic}: the main topic a derived topic belongs to. */
export function sourceTopicOf(topic: string): string {
  return topic.replace(/\.retry\.\d+$/, '').replace(/\.dlq$/, '');
}
