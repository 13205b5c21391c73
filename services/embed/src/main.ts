import { createEmbeddingProvider, loadEmbeddingConfig } from '@docintel/embedding';
import { failedStatusOnDeadLetter, guardQueryable, isDatabaseOutage, main, type ServiceDefinition } from '@docintel/service';
import { createEmbedHandler, loadEmbedConfig } from './handler';
import { loadQuotaConfig, SharedRateLimiter } from './quota';
import { loadResilienceConfig, resilientProvider } from './resilience';

export const embedService: ServiceDefinition<'chunks'> = {
  name: 'embed',
  consumes: 'chunks',
  setup: async (deps) => {
    const db = guardQueryable(deps.pool, deps.breaker('postgres', { counts: isDatabaseOutage }));
    const provider = resilientProvider(
      createEmbeddingProvider(loadEmbeddingConfig(deps.env)),
      loadResilienceConfig(deps.env),
      deps.logger,
      deps.breaker('embedding'),
      new SharedRateLimiter(db, loadQuotaConfig(deps.env)),
    );
    return {
      ...createEmbedHandler({ topics: deps.topics, registry: deps.registry, db }, provider, loadEmbedConfig(deps.env)),
      onDeadLetter: failedStatusOnDeadLetter(deps.topics.status, 'embed'),
    };
  },
};

if (require.main === module) main(embedService);
