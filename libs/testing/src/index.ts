export * from './eventually';
export * from './database';
export * from './kafka';
export * from './metrics';
export * from './postgres';
export * from './memory';
