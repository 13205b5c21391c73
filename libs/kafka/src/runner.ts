import { randomUUID } from 'node:crypto';
import { classifyError, DocintelError, PermanentError, type ConsumerMetrics, type ErrorClassification, type Logger } from '@docintel/core';
import { HEADERS, decodeMessage, namedDocument, readHeaders, retryTopic, type HeaderMap, type NamedDocument } from '@docintel/contracts';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { z } from 'zod';
import { attemptOf, routeFailure } from './failure';
import type { InFlightPartition, InFlightStore } from './inflight';
import { sendAll, withStandardHeaders, type OutboundMessage } from './outbound';

/** A validated message as a handler sees it. */
export interface ConsumedMessage<T> {
  value: T;
  key: string | undefined;
  headers: HeaderMap;
  topic: string;
  partition: number;
  offset: string;
  /** 0 on the main topic, n on retry tier n. */
  attempt: number;
  traceId: string;
  /** The message was put back by a replay (it carries `x-replayed-at`). */
  replayed: boolean;
  /** A child logger with tenant, document and trace ids. */
  logger: Logger;
}

export interface HandlerContext {
  /** Queue a message; it is sent, durably, before the offset of the message being handled is committed. */
  emit(message: OutboundMessage): void;
  /**
   * Send what is queued now (a large document's early batches), so memory stays bounded. The
   * offset is still committed only after the handler returns and the rest is sent.
   */
  flush(): Promise<void>;
  /** Keep the group membership alive during long work. */
  heartbeat(): Promise<void>;
}

export interface DeadLetterInfo<T> {
  /** The decoded value, when the message got that far. */
  value: T | undefined;
  /**
   * When the value did not decode: the document its raw value names, if it names one of the
   * tenant its key and `tenant-id` header agree on (`namedDocument`). A claim, not a fact.
   */
  named?: NamedDocument;
  error: ErrorClassification;
  headers: HeaderMap;
  traceId: string;
}

export interface StageConsumerOptions<T extends { tenantId: string }> {
  kafka: Kafka;
  producer: Producer;
  logger: Logger;
  metrics: ConsumerMetrics;
  /** The main topic (already prefixed); its retry tiers are consumed by a second consumer. */
  topic: string;
  /** Consumer group of the main topic; the retry tiers use `${groupId}.retry`. */
  groupId: string;
  schema: z.ZodType<T>;
  /** Delay of each retry tier; its length is the number of tiers. */
  retryDelaysMs: readonly number[];
  handle(message: ConsumedMessage<T>, context: HandlerContext): Promise<void>;
  /** Extra messages to send with a dead-lettered one (e.g. a `failed` status event). */
  onDeadLetter?(info: DeadLetterInfo<T>): OutboundMessage[];
  /** Messages of one partition batch handled at once. @default 1 */
  concurrency?: number;
  /**
   * With concurrency: messages with the same key are handled one after another, in offset order
   * (e.g. the batches and the delete of one document); different keys run side by side.
   */
  orderingKey?: (message: KafkaMessage) => string;
  /** Partitions handled at once by each consumer. @default 4 */
  partitionsConsumedConcurrently?: number;
  /** @default 1_048_576 (1 MiB) */
  maxBytesPerPartition?: number;
  /** Called when a consumer stops for good (kafkajs gave up restarting it). */
  onFatal?(error: unknown): void;
  /**
   * The dependencies' circuit breakers. While open, partitions are paused instead of burning
   * retries: a message that fails because of it is neither retried nor dead-lettered but read
   * again once a breaker lets a probe through.
   */
  gate?: { isOpen(): boolean; onChange(listener: () => void): void };
  /**
   * Where the messages in flight are recorded, so that one that kills the process is dead-lettered
   * (`POISON_CRASH`) instead of killing every process that reads it. Without it, none is recorded.
   */
  inFlight?: InFlightStore;
  /** Deaths of the process with a message in flight after which it is dead-lettered unhandled. @default 2 */
  deathsBeforeDeadLetter?: number;
  /** The consumers' session timeout: how long a process that died keeps its partitions. @default 30_000 */
  sessionTimeoutMs?: number;
}

/** How long a partition waits before it is read again when the in-flight store failed. */
const IN_FLIGHT_RETRY_MS = 1_000;

type Handled = Array<{ topic: string; message: Message }> | 'hold' | 'stale' | { waitUntil: number; reason: string };

type State = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Consumes one topic and its retry tiers for a pipeline stage. Each message is validated, handled,
 * and its outputs sent (acks from every in-sync replica) before its offset is committed. A failure
 * moves the message to the next retry tier or the DLQ, decided from the error's code and retriable
 * flag alone. A retry consumer holds a message until its due time by pausing that partition, so
 * neither the main topic nor heartbeats wait.
 */
export class StageConsumer<T extends { tenantId: string }> {
  readonly #options: StageConsumerOptions<T>;
  readonly #main: Consumer;
  readonly #retry: Consumer | undefined;
  readonly #joined = new Set<Consumer>();
  readonly #resumeTimers = new Set<NodeJS.Timeout>();
  /** Partitions paused because a breaker is open, with their resume functions. */
  #gateHolds: Array<() => void> = [];
  #state: State = 'idle';
  /** This consumer's life, as its in-flight records name it. */
  readonly #life = randomUUID();

  constructor(options: StageConsumerOptions<T>) {
    this.#options = options;
    options.gate?.onChange(() => {
      if (!options.gate?.isOpen()) this.#releaseGateHolds();
    });
    this.#main = this.#createConsumer(options.groupId, false);
    this.#retry = options.retryDelaysMs.length > 0 ? this.#createConsumer(groupOf(options.groupId, true), true) : undefined;
  }

  /** Joined to both groups and able to produce. */
  isReady(): boolean {
    return this.#state === 'running' && this.#joined.has(this.#main) && (this.#retry === undefined || this.#joined.has(this.#retry));
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new Error(`cannot start a consumer that is ${this.#state}`);
    this.#state = 'running';
    const { topic, retryDelaysMs } = this.#options;
    await this.#run(this.#main, [topic], false);
    if (this.#retry) {
      await this.#run(this.#retry, retryDelaysMs.map((_, index) => retryTopic(topic, index + 1)), true);
    }
  }

  /** Finishes the batches in flight, commits them and leaves the groups. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    for (const timer of this.#resumeTimers) clearTimeout(timer);
    this.#resumeTimers.clear();
    this.#gateHolds = [];
    const results = await Promise.allSettled([this.#main.disconnect(), this.#retry?.disconnect()]);
    this.#state = 'stopped';
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #createConsumer(groupId: string, isRetry: boolean): Consumer {
    const sessionTimeout = this.#options.sessionTimeoutMs ?? 30_000;
    const consumer = this.#options.kafka.consumer({
      groupId,
      sessionTimeout,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      maxBytesPerPartition: this.#options.maxBytesPerPartition ?? 1_048_576,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
      // A resumed retry partition is only fetched again after the long-poll in flight returns.
      maxWaitTimeInMs: isRetry ? 500 : 2_000,
    });
    consumer.on(consumer.events.GROUP_JOIN, () => this.#joined.add(consumer));
    consumer.on(consumer.events.CRASH, (event) => {
      this.#joined.delete(consumer);
      const { error, restart } = event.payload;
      this.#options.logger.error('consumer crashed', { groupId, error, restart });
      if (!restart && this.#state === 'running') this.#options.onFatal?.(error);
    });
    consumer.on(consumer.events.STOP, () => this.#joined.delete(consumer));
    return consumer;
  }

  async #run(consumer: Consumer, topics: string[], isRetry: boolean): Promise<void> {
    await consumer.connect();
    // A new group starts at the beginning: messages produced before the first start are not skipped.
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#options.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.#handleBatch(consumer, payload, isRetry),
    });
  }

  async #handleBatch(consumer: Consumer, payload: EachBatchPayload, isRetry: boolean): Promise<void> {
    const { batch } = payload;
    const started = process.hrtime.bigint();
    let messages = batch.messages;
    let holdUntil: number | undefined;
    if (isRetry) {
      // Due times only grow along a retry partition (one delay per tier), so the first message not
      // yet due holds the rest of the partition too.
      const now = Date.now();
      const firstNotDue = messages.findIndex((message) => dueAt(message) > now);
      if (firstNotDue >= 0) {
        holdUntil = dueAt(messages[firstNotDue]!);
        messages = messages.slice(0, firstNotDue);
      }
    }

    if (messages.length === 0) {
      if (holdUntil !== undefined && this.#state === 'running') this.#hold(payload, batch.topic, batch.partition, holdUntil);
      return;
    }

    const store = this.#options.inFlight;
    const where: InFlightPartition = { groupId: groupOf(this.#options.groupId, isRetry), topic: batch.topic, partition: batch.partition };
    const last = messages[messages.length - 1]!.offset;
    // Offsets that earlier lives left in flight (they died), with how many lives each.
    let suspects = new Map<string, number>();
    if (store) {
      if (this.#options.gate?.isOpen()) {
        this.#pauseAfter(payload, batch.topic, batch.partition, 'hold');
        return;
      }
      try {
        suspects = await store.begin(where, messages[0]!.offset, last, this.#life);
      } catch (error) {
        this.#inFlightFailed(error, where);
        this.#pauseAfter(payload, batch.topic, batch.partition, this.#inFlightHold());
        return;
      }
    }
    let committed: string | undefined;
    try {
      committed = await this.#handleMessages(consumer, payload, messages, where, suspects, holdUntil, started);
    } finally {
      if (store) {
        await store.end(where, committed, last, this.#life).catch((error: unknown) => this.#inFlightFailed(error, where));
      }
    }
  }

  /** Handles a batch's messages, sends their outputs and commits; returns the offset committed, if any. */
  async #handleMessages(
    consumer: Consumer,
    payload: EachBatchPayload,
    messages: KafkaMessage[],
    where: InFlightPartition,
    suspects: Map<string, number>,
    holdUntil: number | undefined,
    started: bigint,
  ): Promise<string | undefined> {
    const { batch } = payload;
    const gate = this.#options.gate;
    const store = this.#options.inFlight;
    // After a death (records found), one message at a time, each recorded on its own: the next
    // death then names the one message that caused it, not the batch around it.
    const careful = suspects.size > 0 ? store : undefined;
    if (careful) this.#options.logger.warn('messages were in flight when a consumer died; handling them one at a time', { ...where, offsets: [...suspects.keys()] });
    const deathLimit = this.#options.deathsBeforeDeadLetter ?? 2;
    // Past the dead consumer's messages, the batch is read again and handled as usual.
    const lastSuspect = careful ? [...suspects.keys()].reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b)) : undefined;
    let storeDown = false;
    // Careful handling stops at the first message that is not done: the rest is read again anyway.
    let halted = false;
    // kafkajs heartbeats only between batches or when asked; a slow batch (a large document, a
    // provider budget wait) must not cost the group membership.
    const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), 3_000);
    const outputs = await mapOrdered(messages, careful ? 1 : (this.#options.concurrency ?? 1), this.#options.orderingKey, async (message): Promise<Handled> => {
      if (!payload.isRunning() || payload.isStale()) return 'stale';
      if (gate?.isOpen()) return 'hold';
      const beatNow = () => payload.heartbeat();
      if (!careful) {
        const result = await this.#handleOne(batch.topic, batch.partition, message, beatNow);
        await payload.heartbeat();
        return result;
      }
      if (halted || BigInt(message.offset) > BigInt(lastSuspect!)) return 'stale';
      if (storeDown) {
        halted = true;
        return this.#inFlightHold();
      }
      const deaths = suspects.get(message.offset) ?? 0;
      // Set aside unhandled; its record stays until the dead letter is committed.
      if (deaths >= deathLimit) return this.#handleOne(batch.topic, batch.partition, message, beatNow, deaths);
      try {
        await careful.start(where, message.offset, this.#life);
      } catch (error) {
        this.#inFlightFailed(error, where);
        halted = true;
        return this.#inFlightHold();
      }
      const result = await this.#handleOne(batch.topic, batch.partition, message, beatNow);
      try {
        await careful.finish(where, message.offset, this.#life);
      } catch (error) {
        // Its result stands; the rest waits, so a death now cannot be blamed on this message.
        this.#inFlightFailed(error, where);
        storeDown = true;
      }
      if (!Array.isArray(result)) halted = true;
      await payload.heartbeat();
      return result;
    }).finally(() => clearInterval(beat));
    // Only the prefix of handled messages counts: the rest is read again (outputs are idempotent).
    const stop = outputs.findIndex((result) => !Array.isArray(result));
    const handled = stop === -1 ? messages : messages.slice(0, stop);
    await sendAll(this.#options.producer, outputs.slice(0, handled.length).flatMap((result) => (Array.isArray(result) ? result : [])));
    const lastHandled = handled[handled.length - 1];
    let committed: string | undefined;
    if (lastHandled) {
      payload.resolveOffset(lastHandled.offset);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(lastHandled.offset) + 1n).toString() }]);
      committed = lastHandled.offset;
    }
    this.#options.metrics.handleSeconds.observe({ topic: batch.topic }, Number(process.hrtime.bigint() - started) / 1e9);

    const stopped = stop === -1 ? undefined : outputs[stop];
    if (stopped !== undefined && !Array.isArray(stopped) && stopped !== 'stale') {
      this.#pauseAfter(payload, batch.topic, batch.partition, stopped);
    } else if (holdUntil !== undefined && handled.length === messages.length && this.#state === 'running') {
      this.#hold(payload, batch.topic, batch.partition, holdUntil);
    }
    return committed;
  }

  /** Pauses a partition after a message that said "later": until the gate closes, or for a time. */
  #pauseAfter(payload: EachBatchPayload, topic: string, partition: number, stopped: 'hold' | { waitUntil: number; reason: string }): void {
    if (this.#state !== 'running') return;
    if (stopped === 'hold') this.#holdForGate(payload, topic, partition);
    // Rate limited, or the in-flight store failed: wait and read the message again; it is not a failure.
    else this.#hold(payload, topic, partition, stopped.waitUntil, stopped.reason);
  }

  /** What a message does while the in-flight store fails: it waits, like any outage. */
  #inFlightHold(): 'hold' | { waitUntil: number; reason: string } {
    return this.#options.gate?.isOpen() ? 'hold' : { waitUntil: Date.now() + IN_FLIGHT_RETRY_MS, reason: 'in-flight-store' };
  }

  #inFlightFailed(error: unknown, where: InFlightPartition): void {
    const classification = classifyError(error, 'recording the messages in flight');
    this.#options.logger.warn('in-flight record failed; the partition waits', { ...where, code: classification.code, error: classification.message, detail: classification.logDetail });
  }

  /** Pauses a partition while a breaker is open; resumed when the gate lets probes through. */
  #holdForGate(payload: EachBatchPayload, topic: string, partition: number): void {
    const resume = payload.pause();
    this.#options.metrics.paused.inc({ reason: 'breaker' });
    this.#options.logger.warn('pausing consumption: a dependency is unavailable', { topic, partition });
    this.#gateHolds.push(() => {
      this.#options.metrics.paused.dec({ reason: 'breaker' });
      resume();
    });
    if (!this.#options.gate?.isOpen()) this.#releaseGateHolds();
  }

  #releaseGateHolds(): void {
    const holds = this.#gateHolds;
    this.#gateHolds = [];
    if (holds.length > 0) this.#options.logger.info('resuming consumption', { partitions: holds.length });
    for (const resume of holds) resume();
  }

  /** Pauses one retry partition until `until`; kafkajs resumes from the last resolved offset. */
  #hold(payload: EachBatchPayload, topic: string, partition: number, until: number, reason = 'retry-delay'): void {
    const resume = payload.pause();
    this.#options.metrics.paused.inc({ reason });
    const timer = setTimeout(() => {
      this.#resumeTimers.delete(timer);
      this.#options.metrics.paused.dec({ reason });
      resume();
    }, Math.max(0, until - Date.now()));
    this.#resumeTimers.add(timer);
    this.#options.logger.debug('holding retry partition', { topic, partition, until });
  }

  /** Validates and handles one message; with `deaths`, dead-letters it as `POISON_CRASH` instead of handling it. */
  async #handleOne(
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
    deaths?: number,
  ): Promise<Handled> {
    const options = this.#options;
    const headers = readHeaders(message.headers);
    const key = message.key?.toString('utf8');
    const traceId = headers[HEADERS.traceId] ?? randomUUID();
    const emitted: OutboundMessage[] = [];
    let value: T | undefined;
    let logger = options.logger.child({ tenantId: key, traceId, topic, partition, offset: message.offset });
    try {
      value = decodeMessage(options.schema, message.value, key, headers);
      const documentId = (value as { documentId?: string }).documentId;
      logger = logger.child({ tenantId: value.tenantId, documentId });
      if (deaths !== undefined) {
        throw new PermanentError('POISON_CRASH', `the consumer's process died ${deaths} times with this message in flight; it is set aside without being handled`);
      }
      const consumed: ConsumedMessage<T> = {
        value,
        key,
        headers,
        topic,
        partition,
        offset: message.offset,
        attempt: attemptOf(headers),
        traceId,
        replayed: headers[HEADERS.replayedAt] !== undefined,
        logger,
      };
      const flush = async () => {
        const queued = emitted.splice(0);
        await sendAll(options.producer, queued.map((out) => ({ topic: out.topic, message: withStandardHeaders(out, traceId) })));
      };
      await options.handle(consumed, { emit: (out) => emitted.push(out), flush, heartbeat });
      options.metrics.messages.inc({ topic: options.topic, outcome: 'ok' });
      return emitted.map((out) => ({ topic: out.topic, message: withStandardHeaders(out, traceId) }));
    } catch (error) {
      const classification = classifyError(error);
      if (classification.code === 'EMBEDDING_RATE_LIMITED') {
        // A 429 says "later", not "wrong": the message waits, and never counts as a failure.
        const retryAfter = Number((findDocintelError(error)?.details?.retryAfterMs as number | undefined) ?? 1_000);
        options.metrics.messages.inc({ topic: options.topic, outcome: 'held' });
        logger.info('rate limited; waiting before reading the message again', { retryAfterMs: retryAfter });
        return { waitUntil: Date.now() + Math.max(100, retryAfter), reason: 'rate-limited' };
      }
      if (classification.code === 'CIRCUIT_OPEN' || (classification.retriable && options.gate?.isOpen())) {
        // An outage, not this message's fault: read it again after the dependency is back.
        options.metrics.messages.inc({ topic: options.topic, outcome: 'held' });
        return 'hold';
      }
      const routing = routeFailure(
        { sourceTopic: options.topic, topic, partition, offset: message.offset, timestamp: message.timestamp, headers, groupId: options.groupId },
        classification,
        options.retryDelaysMs,
      );
      const out: Array<{ topic: string; message: Message }> = [
        { topic: routing.topic, message: { key: message.key, value: message.value, headers: routing.headers } },
      ];
      if (routing.kind === 'retry') {
        options.metrics.retries.inc({ topic: options.topic, tier: String(routing.tier), code: classification.code });
        options.metrics.messages.inc({ topic: options.topic, outcome: 'retry' });
        logger.warn('message failed; retrying later', { code: classification.code, error: classification.message, detail: classification.logDetail, tier: routing.tier });
      } else {
        options.metrics.deadLetters.inc({ topic: options.topic, code: classification.code });
        options.metrics.messages.inc({ topic: options.topic, outcome: 'dlq' });
        logger.error('message dead-lettered', { code: classification.code, error: classification.message, detail: classification.logDetail, retriable: classification.retriable });
        const named = value === undefined ? namedDocument(message.value, key, headers) : undefined;
        const extra = options.onDeadLetter?.({ value, named, error: classification, headers, traceId }) ?? [];
        out.push(...extra.map((msg) => ({ topic: msg.topic, message: withStandardHeaders(msg, traceId) })));
      }
      return out;
    }
  }
}

/** The group a consumer of the stage reads in: the main group, or its `.retry` group. */
function groupOf(groupId: string, isRetry: boolean): string {
  return isRetry ? `${groupId}.retry` : groupId;
}

function dueAt(message: KafkaMessage): number {
  const raw = message.headers?.[HEADERS.retryDueAt];
  const text = Array.isArray(raw) ? raw[0] : raw;
  const due = Number(text?.toString() ?? '0');
  return Number.isFinite(due) ? due : 0;
}

/**
 * Like Promise.all over `items` with at most `limit` in flight; results keep the input order.
 * Items with the same key (when `keyOf` is given) run one after another, in input order.
 */
async function mapOrdered<I, O>(items: readonly I[], limit: number, keyOf: ((item: I) => string) | undefined, work: (item: I) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = keyOf && limit > 1 ? keyOf(item) : limit > 1 ? String(index) : '';
    const group = groups.get(key);
    if (group) group.push(index);
    else groups.set(key, [index]);
  });
  const queue = [...groups.values()];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      for (const index of queue[next++]!) results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
  return results;
}

function findDocintelError(error: unknown): DocintelError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    if (current instanceof DocintelError) return current;
    current = current.cause;
  }
  return undefined;
}
