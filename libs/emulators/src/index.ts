export * from './faults';
export * from './api';
export * from './gemini';
export * from './pinecone';
export { matchesFilter, type Metadata, type MetadataValue } from './pinecone-filter';
