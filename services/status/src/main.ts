import { envInt } from '@docintel/core';
import { documentOf, main, type ServiceDefinition } from '@docintel/service';
import { applyStatusEvent } from './repository';

export const statusService: ServiceDefinition<'status'> = {
  name: 'status',
  consumes: 'status',
  setup: async (deps) => {
    const { postgres } = deps;
    return {
      handle: async (message) => {
        const state = await postgres.fire(() => applyStatusEvent(deps.pool, message.value));
        if (state === undefined) {
          message.logger.info('status of a rejected message not written: it names no document of its tenant', { event: message.value.state });
        } else {
          message.logger.debug('status event applied', { event: message.value.state, state, version: message.value.version });
        }
      },
      // Rows of different documents are folded side by side; one document's events keep their order.
      concurrency: envInt(deps.env, 'STATUS_CONCURRENCY', 16, { min: 1, max: 256 }),
      orderingKey: documentOf,
    };
  },
};

if (require.main === module) main(statusService);
