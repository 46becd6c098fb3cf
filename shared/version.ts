// Filled in at build time by the bundler from package.json; falls back for tests run from source.
declare const __IDLERIG_VERSION__: string | undefined;
export const VERSION: string =
  typeof __IDLERIG_VERSION__ === 'string' ? __IDLERIG_VERSION__ : '0.0.0-dev';
