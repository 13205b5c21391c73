export * from './config';
export * from './client';
export * from './topics';
export * from './outbound';
export * from './failure';
export * from './inflight';
export * from './runner';
export * from './scan';
