import { envInt } from '@docintel/core';
import { documentOf, failedStatusOnDeadLetter, main, type ServiceDefinition } from '@docintel/service';
import { createVectorStore, loadVectorStoreConfig } from '@docintel/vectorstore';
import { coalescingStore } from './coalesce';
import { createStoreHandler } from './handler';
import { advisoryLock } from './ledger';
import { loadStoreResilienceConfig, resilientStore, vectorStoreOutage } from './resilience';

export const storeService: ServiceDefinition<'vectors'> = {
  name: 'store',
  consumes: 'vectors',
  setup: async (deps) => {
    const config = loadVectorStoreConfig(deps.env);
    const store = coalescingStore(
      resilientStore(
        createVectorStore({ ...config, lock: advisoryLock(deps.pool, deps.postgres), logger: deps.logger }),
        loadStoreResilienceConfig(deps.env),
        deps.logger,
        // PostgreSQL's failures inside a write (the lock) are the postgres breaker's to count.
        deps.breaker('vectorstore', { counts: vectorStoreOutage }),
        deps.registry,
      ),
    );
    return {
      ...createStoreHandler({ topics: deps.topics, db: deps.db }, store, config.dimension),
      onDeadLetter: failedStatusOnDeadLetter(deps.topics.status, 'store'),
      // Batches of different documents are written together (one LanceDB write for many messages);
      // the batches and the delete of one document keep their order.
      concurrency: envInt(deps.env, 'STORE_CONCURRENCY', 16, { min: 1, max: 256 }),
      orderingKey: documentOf,
    };
  },
};

if (require.main === module) main(storeService);
