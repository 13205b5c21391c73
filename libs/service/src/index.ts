export * from './config';
export * from './status';
export * from './run';
