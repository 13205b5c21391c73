import type { Queryable } from '@docintel/db';
import type { InFlightPartition, InFlightStore } from '@docintel/kafka';

const KEY = 'group_id = $1 and topic = $2 and kafka_partition = $3';

/** One round trip per batch (`docintel_inflight_begin`, migration 004). */
const BEGIN = `select kafka_offset::text as "offset", lives from docintel_inflight_begin($1, $2, $3, $4, $5, $6)`;

const START = `
  insert into consumer_inflight (group_id, topic, kafka_partition, kafka_offset, lives, life)
  values ($1, $2, $3, $4, 1, $5)
  on conflict (group_id, topic, kafka_partition, kafka_offset)
  do update set lives = consumer_inflight.lives + 1, life = excluded.life, updated_at = now()`;

const FINISH = `delete from consumer_inflight where ${KEY} and kafka_offset = $4 and life = $5`;

const END = `
  with batch as (delete from consumer_inflight_batches where ${KEY} and life = $6)
  delete from consumer_inflight
   where ${KEY} and (kafka_offset <= $4::bigint or (kafka_offset <= $5::bigint and life = $6))`;

/**
 * The runner's in-flight record in PostgreSQL (`consumer_inflight_batches` and `consumer_inflight`,
 * migration 004): two statements per batch, whatever its size, and two per message only while the
 * messages a dead consumer left are handled one at a time. Give it a Queryable behind the
 * service's breaker, so an outage holds the partitions like any other.
 */
export function createInFlightStore(db: Queryable): InFlightStore {
  const key = (where: InFlightPartition) => [where.groupId, where.topic, where.partition];
  return {
    begin: async (where, first, last, life) => {
      const { rows } = await db.query<{ offset: string; lives: number }>(BEGIN, [...key(where), first, last, life]);
      return new Map(rows.map((row) => [row.offset, row.lives]));
    },
    start: async (where, offset, life) => {
      await db.query(START, [...key(where), offset, life]);
    },
    finish: async (where, offset, life) => {
      await db.query(FINISH, [...key(where), offset, life]);
    },
    end: async (where, committed, last, life) => {
      await db.query(END, [...key(where), committed ?? null, last, life]);
    },
  };
}
