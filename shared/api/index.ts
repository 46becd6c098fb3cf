export * from './contract';
export * from './methods';
export * from './settings';
export * from './status';
export * from './logs';
