import { isDatabaseOutage, main, type ServiceDefinition } from '@docintel/service';
import { applyStatusEvent } from './repository';

export const statusService: ServiceDefinition<'status'> = {
  name: 'status',
  consumes: 'status',
  setup: async (deps) => {
    const postgres = deps.breaker('postgres', { counts: isDatabaseOutage });
    return {
      handle: async (message) => {
        const state = await postgres.fire(() => applyStatusEvent(deps.pool, message.value));
        message.logger.debug('status event applied', { event: message.value.state, state, version: message.value.version });
      },
    };
  },
};

if (require.main === module) main(statusService);
