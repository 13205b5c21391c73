import { classifyError, type Breaker } from '@docintel/core';
import { toDatabaseError, type Queryable } from '@docintel/db';

/** The PostgreSQL breaker counts lost connections only; a failing statement is not an outage. */
export function isDatabaseOutage(error: unknown): boolean {
  return classifyError(error).code === 'DATABASE_UNAVAILABLE';
}

/** Every query through the breaker, with connection failures turned into DATABASE_UNAVAILABLE. */
export function guardQueryable(db: Queryable, breaker: Breaker): Queryable {
  return {
    query: (text, values) =>
      breaker.fire(async () => {
        try {
          return await db.query(text, values);
        } catch (error) {
          throw toDatabaseError(error, 'querying PostgreSQL');
        }
      }),
  };
}
