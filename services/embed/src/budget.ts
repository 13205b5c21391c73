import { ConfigError, envOptional, type Env } from '@docintel/core';
import type { ChunkBatch } from '@docintel/contracts';
import { guardQueryable, toDatabaseError, withTransaction, type Guard, type Queryable } from '@docintel/db';
import type { ConsumedMessage } from '@docintel/kafka';
import type pg from 'pg';
import type { Producer } from 'kafkajs';

export interface TenantBudgetConfig {
  /** Embedding tokens a tenant may spend per UTC day; undefined: no budget. */
  defaultDailyTokens: number | undefined;
  perTenant: Map<string, number>;
}

/**
 * `TENANT_DAILY_TOKEN_BUDGET` (every tenant) and `TENANT_DAILY_TOKEN_BUDGETS` (overrides,
 * `acme=2000000,globex=500000`). Unset: no budgets.
 */
export function loadTenantBudgetConfig(env: Env): TenantBudgetConfig {
  const whole = (name: string, text: string) => {
    if (!/^\d+$/.test(text)) throw new ConfigError(name, `must be a whole number of tokens, got "${text}"`);
    return Number(text);
  };
  const fallback = envOptional(env, 'TENANT_DAILY_TOKEN_BUDGET');
  const perTenant = new Map<string, number>();
  for (const part of (envOptional(env, 'TENANT_DAILY_TOKEN_BUDGETS') ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [tenant, tokens] = part.split('=').map((x) => x.trim());
    if (!tenant || tokens === undefined) throw new ConfigError('TENANT_DAILY_TOKEN_BUDGETS', `expected tenant=tokens, got "${part}"`);
    perTenant.set(tenant, whole('TENANT_DAILY_TOKEN_BUDGETS', tokens));
  }
  return { defaultDailyTokens: fallback === undefined ? undefined : whole('TENANT_DAILY_TOKEN_BUDGET', fallback), perTenant };
}

/** The next midnight, UTC, in epoch ms: when daily budgets start again. */
export function nextUtcMidnight(now = Date.now()): number {
  const day = new Date(now);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

export type Reservation = { ok: true } | { ok: false; budget: number; until: number };

/** Per-tenant daily token budgets, counted in PostgreSQL for every replica together. */
export class TenantBudgets {
  constructor(
    private readonly db: Queryable,
    private readonly config: TenantBudgetConfig,
  ) {}

  budgetOf(tenantId: string): number | undefined {
    return this.config.perTenant.get(tenantId) ?? this.config.defaultDailyTokens;
  }

  /**
   * Takes `tokens` from today's budget, all or nothing. The first spend of a day always passes, so
   * a batch larger than a whole day's budget still goes through once rather than waiting forever.
   */
  async reserve(tenantId: string, tokens: number): Promise<Reservation> {
    const budget = this.budgetOf(tenantId);
    if (budget === undefined || tokens === 0) return { ok: true };
    try {
      const result = await this.db.query(
        `insert into tenant_token_usage (tenant_id, day, tokens) values ($1, (now() at time zone 'utc')::date, $2)
         on conflict (tenant_id, day) do update set tokens = tenant_token_usage.tokens + excluded.tokens
           where tenant_token_usage.tokens + excluded.tokens <= $3
         returning tokens`,
        [tenantId, tokens, budget],
      );
      return result.rowCount === 1 ? { ok: true } : { ok: false, budget, until: nextUtcMidnight() };
    } catch (error) {
      throw toDatabaseError(error, 'reserving a tenant budget');
    }
  }
}

/**
 * Sets messages aside until a time, in PostgreSQL, and puts them back on their topic when due: a
 * tenant that must wait does so without holding the partition it shares with other tenants.
 */
export class ParkingLot {
  #timer: NodeJS.Timeout | undefined;
  #releasing: Promise<number> | undefined;
  readonly #db: Queryable;

  /** `guard` (the postgres breaker) runs every query and checkout. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly producer: Producer,
    private readonly guard?: Guard,
  ) {
    this.#db = guardQueryable(pool, guard, 'parking a message');
  }

  async park(topic: string, message: ConsumedMessage<ChunkBatch>, reason: string, until: number): Promise<void> {
    await this.#db.query(
      `insert into parked_messages (topic, tenant_id, message_key, message_value, headers, reason, due_at)
       values ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0))`,
      [topic, message.value.tenantId, message.key ?? null, Buffer.from(JSON.stringify(message.value)), JSON.stringify(message.headers), reason, until],
    );
  }

  /** Puts back every due message (produce first, then delete: a crash between repeats a message, harmlessly). */
  release(): Promise<number> {
    this.#releasing ??= withTransaction(
      this.pool,
      async (client) => {
        const due = await client.query<{ id: string; topic: string; message_key: string | null; message_value: Buffer; headers: Record<string, string> }>(
          'select id, topic, message_key, message_value, headers from parked_messages where due_at <= now() order by id limit 500 for update skip locked',
        );
        if (due.rows.length > 0) {
          await this.producer.sendBatch({
            acks: -1,
            topicMessages: [...new Set(due.rows.map((r) => r.topic))].map((topic) => ({
              topic,
              messages: due.rows.filter((r) => r.topic === topic).map((r) => ({ key: r.message_key, value: r.message_value, headers: r.headers })),
            })),
          });
          await client.query('delete from parked_messages where id = any($1::bigint[])', [due.rows.map((r) => r.id)]);
        }
        return due.rows.length;
      },
      { action: 'releasing parked messages', guard: this.guard },
    ).finally(() => (this.#releasing = undefined));
    return this.#releasing;
  }

  start(intervalMs: number, onError: (error: unknown) => void): void {
    this.#timer = setInterval(() => void this.release().catch(onError), intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#releasing?.catch(() => undefined);
  }
}
