import { createInFlightStore } from '@docintel/service';
import { createTestDatabase, type TestDatabase } from '@docintel/testing';

describe('createInFlightStore (PostgreSQL)', () => {
  let database: TestDatabase;
  const where = { groupId: 'g', topic: 'document.ingest', partition: 3 };

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(() => database.drop());

  /** Per partition: the batch in flight (first, last, life), and the per-message records (offset, lives, life). */
  const state = async () => {
    const batches = await database.pool.query<{ kafka_partition: number; first_offset: string; last_offset: string; life: string }>(
      'select kafka_partition, first_offset, last_offset, life from consumer_inflight_batches order by kafka_partition',
    );
    const messages = await database.pool.query<{ kafka_partition: number; kafka_offset: string; lives: number; life: string }>(
      'select kafka_partition, kafka_offset, lives, life from consumer_inflight order by kafka_partition, kafka_offset',
    );
    return {
      batches: batches.rows.map((row) => [row.kafka_partition, row.first_offset, row.last_offset, row.life]),
      messages: messages.rows.map((row) => [row.kafka_partition, row.kafka_offset, row.lives, row.life]),
    };
  };

  it('records a batch as one range whatever its size, and forgets it once committed', async () => {
    const store = createInFlightStore(database.pool);
    expect(await store.begin(where, '10', '5009', 'a')).toEqual(new Map());
    expect(await state()).toEqual({ batches: [[3, '10', '5009', 'a']], messages: [] });
    await store.end(where, '5009', '5009', 'a');
    expect(await state()).toEqual({ batches: [], messages: [] });
  });

  it('turns the batch of a dead consumer into one record per message, from the first offset not committed', async () => {
    const store = createInFlightStore(database.pool);
    await store.begin(where, '10', '14', 'dead');
    await store.begin({ ...where, partition: 4 }, '10', '11', 'other');
    // 10 and 11 were committed since (the next batch starts at 12), and the next batch ends before 14.
    expect(await store.begin(where, '12', '13', 'b')).toEqual(new Map([['12', 1], ['13', 1]]));
    expect(await state()).toEqual({
      batches: [[4, '10', '11', 'other']],
      messages: [
        [3, '12', 1, 'dead'],
        [3, '13', 1, 'dead'],
        [3, '14', 1, 'dead'],
      ],
    });
    // A later batch finds what lies beyond; nothing new is recorded while records remain.
    expect(await store.begin(where, '14', '20', 'b')).toEqual(new Map([['14', 1]]));
    expect((await state()).batches).toEqual([[4, '10', '11', 'other']]);
  });

  it('counts a life per start, forgets a message that came back, and keeps other lives records', async () => {
    const store = createInFlightStore(database.pool);
    await store.begin(where, '11', '12', 'dead');
    await store.begin(where, '11', '12', 'b');
    await store.start(where, '11', 'b');
    await store.start(where, '13', 'b');
    expect((await state()).messages).toEqual([
      [3, '11', 2, 'b'],
      [3, '12', 1, 'dead'],
      [3, '13', 1, 'b'],
    ]);
    await store.finish(where, '12', 'b');
    await store.finish(where, '11', 'b');
    expect((await state()).messages).toEqual([
      [3, '12', 1, 'dead'],
      [3, '13', 1, 'b'],
    ]);
  });

  it('adds the lives of a second death to the records of the first', async () => {
    const store = createInFlightStore(database.pool);
    await store.begin(where, '0', '3', 'first');
    await store.begin(where, '0', '3', 'second');
    // The second consumer dies handling 1 (started, never finished): the third sees two lives.
    await store.start(where, '0', 'second');
    await store.finish(where, '0', 'second');
    await store.start(where, '1', 'second');
    expect(await store.begin(where, '0', '3', 'third')).toEqual(new Map([['1', 2], ['2', 1], ['3', 1]]));
  });

  it('after a batch, forgets its own batch and records and everything committed, but keeps other lives records above the commit', async () => {
    const store = createInFlightStore(database.pool);
    await store.begin(where, '10', '13', 'dead');
    await store.begin(where, '10', '13', 'b');
    await store.start(where, '12', 'b');
    await store.end(where, '10', '13', 'b');
    expect(await state()).toEqual({
      batches: [],
      messages: [
        [3, '11', 1, 'dead'],
        [3, '13', 1, 'dead'],
      ],
    });
    await store.end(where, undefined, '13', 'dead');
    expect((await state()).messages).toEqual([]);
  });
});
