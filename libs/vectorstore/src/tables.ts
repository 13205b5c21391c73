import { PermanentError } from '@docintel/core';
import { connect, type Connection, type Table } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { vectorDimensionOf } from './records';

const PAGE = 1000;

/**
 * The connection to one LanceDB directory and the cached handles of its tables, one per
 * namespace. Opening a table reads its manifest, so handles are kept for the store's lifetime.
 */
export class LanceTables {
  readonly #directory: string;
  readonly #readConsistencyInterval: number;
  readonly #schema: Schema;
  readonly #dimension: number;
  /** Opened (or opening) handles. A namespace without a table is not cached: another process may create it. */
  readonly #tables = new Map<string, Promise<Table | undefined>>();
  #connection: Promise<Connection> | undefined;

  constructor(directory: string, readConsistencyInterval: number, schema: Schema) {
    this.#directory = directory;
    this.#readConsistencyInterval = readConsistencyInterval;
    this.#schema = schema;
    this.#dimension = vectorDimensionOf(schema)!;
  }

  /** The namespace's table; with `create` (writers only, inside the namespace's write lock) a missing one is created. */
  async get(namespace: string, create: boolean): Promise<Table | undefined> {
    const table = await (this.#tables.get(namespace) ?? this.#cache(namespace, this.#open(namespace)));
    if (table !== undefined || !create) return table;
    return this.#cache(namespace, this.#create(namespace));
  }

  /** Every table name; LanceDB returns them in pages. */
  async names(): Promise<string[]> {
    const db = await this.#db();
    const names: string[] = [];
    for (;;) {
      const last = names.at(-1);
      const page = await db.tableNames(last === undefined ? { limit: PAGE } : { startAfter: last, limit: PAGE });
      names.push(...page);
      if (page.length < PAGE) return names;
    }
  }

  /** Closes every handle and the connection. */
  async close(): Promise<void> {
    const tables = await Promise.allSettled(this.#tables.values());
    for (const result of tables) {
      if (result.status === 'fulfilled') result.value?.close();
    }
    this.#tables.clear();
    const connection = await this.#connection?.catch(() => undefined);
    connection?.close();
    this.#connection = undefined;
  }

  #db(): Promise<Connection> {
    if (this.#connection === undefined) {
      const connecting = connect(this.#directory, { readConsistencyInterval: this.#readConsistencyInterval });
      this.#connection = connecting;
      // A failed connect is not kept: the next call tries again.
      connecting.catch(() => {
        if (this.#connection === connecting) this.#connection = undefined;
      });
    }
    return this.#connection;
  }

  #cache(namespace: string, pending: Promise<Table | undefined>): Promise<Table | undefined> {
    this.#tables.set(namespace, pending);
    const forget = (): void => {
      if (this.#tables.get(namespace) === pending) this.#tables.delete(namespace);
    };
    void pending.then((table) => {
      if (table === undefined) forget();
    }, forget);
    return pending;
  }

  async #open(namespace: string): Promise<Table | undefined> {
    const db = await this.#db();
    let table: Table;
    try {
      table = await db.openTable(namespace);
    } catch (error) {
      // LanceDB has no error type for "not found"; look at the table list instead of parsing messages.
      if (!(await this.names()).includes(namespace)) return undefined;
      throw error;
    }
    await this.#checkDimension(namespace, table);
    return table;
  }

  async #create(namespace: string): Promise<Table> {
    const db = await this.#db();
    // existOk: another process may have created it since we looked.
    const table = await db.createEmptyTable(namespace, this.#schema, { mode: 'create', existOk: true });
    await this.#checkDimension(namespace, table);
    return table;
  }

  /** A directory written with another dimension must fail loudly, not mix vectors of two models. */
  async #checkDimension(namespace: string, table: Table): Promise<void> {
    const actual = vectorDimensionOf(await table.schema());
    if (actual !== this.#dimension) {
      table.close();
      const held = actual === undefined ? 'no vector column' : `vectors of dimension ${actual}`;
      throw new PermanentError('DIMENSION_MISMATCH', `namespace ${namespace} holds ${held}; the store expects dimension ${this.#dimension}`);
    }
  }
}
