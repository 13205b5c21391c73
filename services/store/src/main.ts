import { envInt } from '@docintel/core';
import { documentOf, failedStatusOnDeadLetter, guardQueryable, isDatabaseOutage, main, type ServiceDefinition } from '@docintel/service';
import { createVectorStore, loadVectorStoreConfig } from '@docintel/vectorstore';
import { coalescingStore } from './coalesce';
import { createStoreHandler } from './handler';
import { advisoryLock } from './ledger';
import { loadStoreResilienceConfig, resilientStore } from './resilience';

export const storeService: ServiceDefinition<'vectors'> = {
  name: 'store',
  consumes: 'vectors',
  setup: async (deps) => {
    const config = loadVectorStoreConfig(deps.env);
    const store = coalescingStore(
      resilientStore(
        createVectorStore({ ...config, lock: advisoryLock(deps.pool), logger: deps.logger }),
        loadStoreResilienceConfig(deps.env),
        deps.logger,
        deps.breaker('vectorstore'),
        deps.registry,
      ),
    );
    const db = guardQueryable(deps.pool, deps.breaker('postgres', { counts: isDatabaseOutage }));
    return {
      ...createStoreHandler({ topics: deps.topics, db }, store, config.dimension),
      onDeadLetter: failedStatusOnDeadLetter(deps.topics.status, 'store'),
      // Batches of different documents are written together (one LanceDB write for many messages);
      // the batches and the delete of one document keep their order.
      concurrency: envInt(deps.env, 'STORE_CONCURRENCY', 16, { min: 1, max: 256 }),
      orderingKey: documentOf,
    };
  },
};

if (require.main === module) main(storeService);
