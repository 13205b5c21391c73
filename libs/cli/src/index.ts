export * from './paths';
export * from './processes';
export * from './context';
export * from './commands/stack';
export * from './commands/ingest';
export * from './commands/status';
export * from './commands/search';
export * from './commands/demo';
export { run } from './main';
