import { createEmbeddingProvider, loadEmbeddingConfig } from '@docintel/embedding';
import { failedStatusOnDeadLetter, main, type ServiceDefinition } from '@docintel/service';
import { createEmbedHandler, loadEmbedConfig } from './handler';
import { loadTenantBudgetConfig, ParkingLot, TenantBudgets } from './budget';
import { loadQuotaConfig, SharedRateLimiter } from './quota';
import { envInt } from '@docintel/core';
import { loadResilienceConfig, resilientProvider } from './resilience';

export const embedService: ServiceDefinition<'chunks'> = {
  name: 'embed',
  consumes: 'chunks',
  setup: async (deps) => {
    const { db } = deps;
    const provider = resilientProvider(
      createEmbeddingProvider(loadEmbeddingConfig(deps.env)),
      loadResilienceConfig(deps.env),
      deps.logger,
      deps.breaker('embedding'),
      new SharedRateLimiter(db, loadQuotaConfig(deps.env)),
      deps.registry,
    );
    const parking = new ParkingLot(deps.pool, deps.producer, deps.postgres);
    const budgets = { budgets: new TenantBudgets(db, loadTenantBudgetConfig(deps.env)), parking };
    parking.start(envInt(deps.env, 'PARKING_RELEASE_INTERVAL_MS', 10_000, { min: 100 }), (error) => deps.logger.warn('releasing parked messages failed', { error }));
    const handler = createEmbedHandler({ topics: deps.topics, registry: deps.registry, db }, provider, loadEmbedConfig(deps.env), budgets);
    return {
      ...handler,
      onDeadLetter: failedStatusOnDeadLetter(deps.topics.status, 'embed'),
      close: async () => {
        await parking.stop();
        await handler.close?.();
      },
    };
  },
};

if (require.main === module) main(embedService);
