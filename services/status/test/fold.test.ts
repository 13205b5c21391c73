import { DOCUMENT_STATES, type DocumentState } from '@docintel/contracts';
import { nextState } from '../src/fold';

const HAPPY_PATH = ['queued', 'fetching', 'chunked', 'embedding', 'storing', 'completed'] as const satisfies readonly DocumentState[];

/** Every (earlier, later) pair of the happy path, e.g. ['queued', 'storing']. */
const forwardPairs = HAPPY_PATH.flatMap((from, i) => HAPPY_PATH.slice(i + 1).map((to) => [from, to] as const));

describe('nextState', () => {
  describe('without a row', () => {
    it.each(DOCUMENT_STATES)('takes the event state %s as it is', (state) => {
      expect(nextState(undefined, { state })).toBe(state);
    });
  });

  describe('along the happy path', () => {
    it.each(forwardPairs)('moves forward from %s to %s', (from, to) => {
      expect(nextState(from, { state: to })).toBe(to);
    });

    it.each(forwardPairs)('stays at %2$s when a %1$s event (behind it) arrives', (behind, current) => {
      expect(nextState(current, { state: behind })).toBe(current);
    });

    it('does not move back even for a replayed event', () => {
      expect(nextState('storing', { state: 'fetching', replayed: true })).toBe('storing');
      expect(nextState('completed', { state: 'queued', replayed: true })).toBe('completed');
    });

    it.each(HAPPY_PATH)('stays at %s when the same state arrives again', (state) => {
      expect(nextState(state, { state })).toBe(state);
    });

    it('walks the whole path one event at a time', () => {
      let state: DocumentState | undefined;
      const seen: DocumentState[] = [];
      for (const event of HAPPY_PATH) {
        state = nextState(state, { state: event });
        seen.push(state);
      }
      expect(seen).toEqual(['queued', 'fetching', 'chunked', 'embedding', 'storing', 'completed']);
    });

    it('ends at the same state whatever the arrival order', () => {
      const orders: DocumentState[][] = [
        ['storing', 'queued', 'chunked', 'fetching', 'completed', 'embedding'],
        ['completed', 'storing', 'embedding', 'chunked', 'fetching', 'queued'],
        ['chunked', 'storing', 'queued', 'embedding', 'fetching', 'completed'],
      ];
      for (const order of orders) {
        const final = order.reduce<DocumentState | undefined>((state, event) => nextState(state, { state: event }), undefined);
        expect(final).toBe('completed');
      }
    });
  });

  describe('deleted', () => {
    it.each(DOCUMENT_STATES)('is reached from %s', (current) => {
      expect(nextState(current, { state: 'deleted' })).toBe('deleted');
    });

    it.each(DOCUMENT_STATES)('is final: a %s event changes nothing', (event) => {
      expect(nextState('deleted', { state: event })).toBe('deleted');
    });

    it.each(DOCUMENT_STATES)('is final even for a replayed %s event', (event) => {
      expect(nextState('deleted', { state: event, replayed: true })).toBe('deleted');
    });
  });

  describe('failed', () => {
    it.each(['queued', 'fetching', 'chunked', 'embedding', 'storing'] as const)('is reached from %s', (current) => {
      expect(nextState(current, { state: 'failed' })).toBe('failed');
    });

    it('does not turn a completed version into a failed one', () => {
      expect(nextState('completed', { state: 'failed' })).toBe('completed');
      expect(nextState('completed', { state: 'failed', replayed: true })).toBe('completed');
    });

    it.each(['queued', 'fetching', 'chunked', 'embedding', 'storing', 'failed'] as const)('is sticky: a late %s event leaves it failed', (event) => {
      expect(nextState('failed', { state: event })).toBe('failed');
      expect(nextState('failed', { state: event, replayed: false })).toBe('failed');
    });

    it('gives way to completed', () => {
      expect(nextState('failed', { state: 'completed' })).toBe('completed');
    });

    it.each(['queued', 'fetching', 'chunked', 'embedding', 'storing', 'completed'] as const)(
      'is revived by a replayed %s event',
      (event) => {
        expect(nextState('failed', { state: event, replayed: true })).toBe(event);
      },
    );

    it('stays failed for a replayed failure', () => {
      expect(nextState('failed', { state: 'failed', replayed: true })).toBe('failed');
    });

    it('gives way to deleted', () => {
      expect(nextState('failed', { state: 'deleted' })).toBe('deleted');
    });
  });
});
