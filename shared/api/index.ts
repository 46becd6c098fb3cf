export * from './contract';
export * from './methods';
export * from './settings';
export * from './status';
export * from './logs';
export * from './models';
export * from './power';
export * from './engine';
