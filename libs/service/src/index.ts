export * from './config';
export * from './status';
export * from './run';
export * from './guard';
export * from './inflight';
