import { createEmbeddingProvider, loadEmbeddingConfig } from '@docintel/embedding';
import { failedStatusOnDeadLetter, main, type ServiceDefinition } from '@docintel/service';
import { createEmbedHandler, loadEmbedConfig } from './handler';

export const embedService: ServiceDefinition<'chunks'> = {
  name: 'embed',
  consumes: 'chunks',
  setup: async (deps) => {
    const provider = createEmbeddingProvider(loadEmbeddingConfig(deps.env));
    return {
      ...createEmbedHandler({ topics: deps.topics, registry: deps.registry, db: deps.pool }, provider, loadEmbedConfig(deps.env)),
      onDeadLetter: failedStatusOnDeadLetter(deps.topics.status, 'embed'),
    };
  },
};

if (require.main === module) main(embedService);
