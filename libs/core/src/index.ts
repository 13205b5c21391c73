export * from './errors';
export * from './config';
export * from './logger';
export * from './metrics';
export * from './http';
export * from './lifecycle';
export * from './warnings';
export * from './retry';
