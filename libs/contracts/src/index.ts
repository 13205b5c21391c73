export * from './topics';
export * from './headers';
export * from './ids';
export * from './messages';
export * from './decode';
