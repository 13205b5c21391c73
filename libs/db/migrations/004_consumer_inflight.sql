-- What each consumer group has in flight (libs/kafka/src/inflight.ts, libs/service/src/inflight.ts), so
-- that a message that kills its consumer's process is recognised when it is read again, by any replica,
-- and dead-lettered as POISON_CRASH instead of killing every process that reads it.
--
-- Unlogged: the records must outlive a consumer's process, not the database. A crash or failover of
-- PostgreSQL empties these tables, which only means that a crash loop then takes a few more deaths to
-- be stopped; in exchange no write here waits for a WAL flush.

-- The batch a consumer is handling, one row per group, topic and partition: written before the batch
-- is handled, deleted after its offsets are committed. A row whose consumer died is its last batch.
create unlogged table consumer_inflight_batches (
  group_id        text not null,
  topic           text not null,
  kafka_partition integer not null,
  first_offset    bigint not null,
  last_offset     bigint not null,
  -- the consumer (one process life) handling it
  life            text not null,
  updated_at      timestamptz not null default now(),
  primary key (group_id, topic, kafka_partition)
);

-- Messages that were in flight when a consumer died, one row per message, with the number of lives
-- that died with it. Written only after a death: the batch of a dead consumer is turned into one row
-- per offset, and the next consumer handles those messages one at a time, recording each before it
-- starts (one more life) and deleting it when it comes back.
create unlogged table consumer_inflight (
  group_id        text not null,
  topic           text not null,
  kafka_partition integer not null,
  kafka_offset    bigint not null,
  lives           integer not null check (lives >= 1),
  -- the consumer (one process life) that wrote the record last
  life            text not null,
  updated_at      timestamptz not null default now(),
  primary key (group_id, topic, kafka_partition, kafka_offset)
);

-- Called once before a batch of offsets p_first..p_last is handled by the consumer p_life. Forgets the
-- records below the batch (committed); turns the batch another consumer left (it died, or lost the
-- partition in a rebalance) into one record per offset, each counting one more life; and returns the
-- records on the batch's offsets. When there are none, the batch is recorded as this consumer's.
create function docintel_inflight_begin(p_group text, p_topic text, p_partition integer, p_first bigint, p_last bigint, p_life text)
returns table (kafka_offset bigint, lives integer)
language plpgsql as $$
#variable_conflict use_column
declare
  v_left consumer_inflight_batches%rowtype;
begin
  delete from consumer_inflight i
   where i.group_id = p_group and i.topic = p_topic and i.kafka_partition = p_partition and i.kafka_offset < p_first;
  select * into v_left from consumer_inflight_batches b
   where b.group_id = p_group and b.topic = p_topic and b.kafka_partition = p_partition
   for update;
  if found and v_left.life <> p_life then
    insert into consumer_inflight as i (group_id, topic, kafka_partition, kafka_offset, lives, life)
    select p_group, p_topic, p_partition, o, 1, v_left.life
      from generate_series(greatest(v_left.first_offset, p_first), v_left.last_offset) as o
    on conflict (group_id, topic, kafka_partition, kafka_offset)
    do update set lives = i.lives + 1, life = excluded.life, updated_at = now();
    delete from consumer_inflight_batches b
     where b.group_id = p_group and b.topic = p_topic and b.kafka_partition = p_partition;
  end if;
  return query
    select i.kafka_offset, i.lives from consumer_inflight i
     where i.group_id = p_group and i.topic = p_topic and i.kafka_partition = p_partition
       and i.kafka_offset between p_first and p_last
     order by i.kafka_offset;
  if not found then
    insert into consumer_inflight_batches as b (group_id, topic, kafka_partition, first_offset, last_offset, life)
    values (p_group, p_topic, p_partition, p_first, p_last, p_life)
    on conflict (group_id, topic, kafka_partition)
    do update set first_offset = excluded.first_offset, last_offset = excluded.last_offset, life = excluded.life, updated_at = now();
  end if;
end;
$$;
