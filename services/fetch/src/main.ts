import { failedStatusOnDeadLetter, main, type ServiceDefinition } from '@docintel/service';
import { loadFetchConfig } from './config';
import { createFetchHandler } from './handler';

export const fetchService: ServiceDefinition<'ingest'> = {
  name: 'fetch',
  consumes: 'ingest',
  setup: async (deps) => ({
    ...createFetchHandler({ topics: deps.topics, db: deps.db }, loadFetchConfig(deps.env)),
    onDeadLetter: failedStatusOnDeadLetter(deps.topics.status, 'fetch'),
    // Documents are read whole; a smaller fetch keeps a batch of large ones from piling up in memory.
    maxBytesPerPartition: 256 * 1024,
  }),
};

if (require.main === module) main(fetchService);
