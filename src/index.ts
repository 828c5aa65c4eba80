// Public programmatic API.
export { createServer, type BleepStoreServer, type ServerOptions } from './server.js';
export { configFromYaml, defaultConfig, loadConfigFile, type Config } from './config.js';
