import type { DocumentState, StatusEvent } from '@docintel/contracts';

/** Order of the happy path; `failed` and `deleted` stand outside it. */
const RANK: Record<DocumentState, number> = {
  queued: 0,
  fetching: 1,
  chunked: 2,
  embedding: 3,
  storing: 4,
  completed: 5,
  deleted: 6,
  failed: -1,
};

/**
 * The state a version moves to when `event` arrives while it is in `current` (undefined: no row
 * yet). Monotonic: a stage behind the recorded one never moves the row back. `deleted` is final.
 * `failed` holds until the version completes or a replayed message brings it back to life, so
 * a late event of a sibling batch cannot hide a failure.
 */
export function nextState(current: DocumentState | undefined, event: Pick<StatusEvent, 'state' | 'replayed'>): DocumentState {
  if (current === undefined) return event.state;
  if (current === 'deleted') return current;
  if (event.state === 'deleted') return 'deleted';
  if (event.state === 'failed') return current === 'completed' ? current : 'failed';
  if (current === 'failed') return event.state === 'completed' || event.replayed === true ? event.state : current;
  return RANK[event.state] > RANK[current] ? event.state : current;
}
