/** One partition of a topic as one consumer group reads it: in-flight records are kept per partition. */
export interface InFlightPartition {
  groupId: string;
  topic: string;
  partition: number;
}

/**
 * Durable record of the messages a consumer has in flight, so that a message that kills its
 * process (out of memory, a native crash) is recognised when it is read again after the restart,
 * by this replica or another one, instead of killing every process that reads it. Records are kept
 * per group, topic and partition; `life` identifies one consumer (one process life). Every method
 * may fail (the store is down); the runner then holds the partition and reads the messages again
 * later, as in any other outage.
 *
 * The runner calls `begin` and `end` once per batch, whatever its size: a batch is recorded as a
 * range of offsets. Only after a death, when `begin` returns records, does it handle the messages
 * of the dead consumer's batch one at a time between `start` and `finish`, which tells the message
 * that killed the process from the ones beside it.
 */
export interface InFlightStore {
  /**
   * Called before a batch spanning offsets `first` to `last` is handled, in one round trip:
   * forgets the records below `first` (committed); turns the batch another consumer left
   * unfinished (it died) into one record per offset, each counting one more life; and returns the
   * records on the batch's offsets, as offset → lives. Only when there are none, it records the
   * batch as in flight in `life`.
   */
  begin(partition: InFlightPartition, first: string, last: string, life: string): Promise<Map<string, number>>;
  /** One message is about to be handled in `life`: one more life counts for it (a new record counts one). */
  start(partition: InFlightPartition, offset: string, life: string): Promise<void>;
  /** The message handled in `life` came back, whatever its outcome: it did not kill the process, so its record goes. */
  finish(partition: InFlightPartition, offset: string, life: string): Promise<void>;
  /**
   * Called after a batch: forgets `life`'s batch, every record up to `committed` (inclusive;
   * undefined when nothing was committed) and the records of `life` up to `last`, the batch's
   * last offset.
   */
  end(partition: InFlightPartition, committed: string | undefined, last: string, life: string): Promise<void>;
}
