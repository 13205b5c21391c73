import type { VectorRecord, VectorStore } from '@docintel/vectorstore';

interface Pending {
  records: VectorRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Merges upserts into one namespace that arrive together (the batches of many messages handled at
 * once) into one write: each LanceDB write makes a new table version and fragment, so fewer, larger
 * writes are what the store's throughput depends on. Callers still get their own promise, settled
 * when the write that carried their records is durable.
 */
export function coalescingStore(store: VectorStore, options: { maxRecords?: number } = {}): VectorStore {
  const maxRecords = options.maxRecords ?? 2_000;
  const queues = new Map<string, Pending[]>();
  const running = new Set<string>();

  const drain = async (namespace: string): Promise<void> => {
    if (running.has(namespace)) return;
    running.add(namespace);
    try {
      for (;;) {
        const queue = queues.get(namespace) ?? [];
        if (queue.length === 0) break;
        // Take whole callers until the write is full; a caller is never split across writes.
        const taken: Pending[] = [];
        let count = 0;
        while (queue.length > 0 && (taken.length === 0 || count + queue[0]!.records.length <= maxRecords)) {
          const next = queue.shift()!;
          taken.push(next);
          count += next.records.length;
        }
        try {
          await store.upsert(namespace, taken.flatMap((pending) => pending.records));
          for (const pending of taken) pending.resolve();
        } catch (error) {
          for (const pending of taken) pending.reject(error);
        }
      }
    } finally {
      running.delete(namespace);
      queues.delete(namespace);
    }
  };

  return {
    upsert: (namespace, records) =>
      new Promise<void>((resolve, reject) => {
        const queue = queues.get(namespace) ?? [];
        queue.push({ records, resolve, reject });
        queues.set(namespace, queue);
        // Writes already queued behind a running one go out together when it finishes.
        queueMicrotask(() => void drain(namespace));
      }),
    deleteDocument: (namespace, documentId, beforeVersion) => store.deleteDocument(namespace, documentId, beforeVersion),
    query: (namespace, vector, topK) => store.query(namespace, vector, topK),
    listIds: (namespace, documentId) => store.listIds(namespace, documentId),
    listNamespaces: () => store.listNamespaces(),
    close: () => store.close(),
  };
}
