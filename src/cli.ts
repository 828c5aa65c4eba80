#!/usr/bin/env node
// `bleepstore` — starts the server (spec/operations.md §2). CLI flags override the YAML file,
// which overrides the defaults. A missing --config file is an error; with no --config and no
// ./bleepstore.yaml the embedded defaults are used (sqlite + local disk under ./data).
import './threadpool.js';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, defaultConfig, loadConfigFile, type Config } from './config.js';
import { createLogger } from './log.js';
import { createServer } from './server.js';

const USAGE = `Usage: bleepstore [options]
  --config PATH             YAML config file (default: ./bleepstore.yaml if present)
  --host HOST               listen address (server.host)
  --port N                  listen port (server.port)
  --bind HOST:PORT          both at once
  --http-engine uws|node    HTTP engine (server.http_engine)
  --log-level LEVEL         debug|info|warn|error
  --log-format text|json
  --shutdown-timeout SECS   drain time on SIGTERM (server.shutdown_timeout)
  --max-object-size BYTES   largest single PutObject (server.max_object_size)
  --help`;

function fail(message: string): never {
  process.stderr.write(`bleepstore: ${message}\n`);
  process.exit(1);
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) fail(`${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

function buildConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      bind: { type: 'string', short: 'b' },
      'http-engine': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'max-object-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  let config: Config;
  if (values.config !== undefined) {
    if (!existsSync(values.config)) fail(`config file not found: ${values.config}`);
    config = loadConfigFile(values.config);
  } else {
    config = existsSync('bleepstore.yaml') ? loadConfigFile('bleepstore.yaml') : defaultConfig();
  }
  if (values.bind !== undefined) {
    const i = values.bind.lastIndexOf(':');
    if (i <= 0) fail(`--bind must be HOST:PORT, got "${values.bind}"`);
    config.server.host = values.bind.slice(0, i);
    config.server.port = nonNegativeInt('--bind port', values.bind.slice(i + 1));
  }
  if (values.host !== undefined) config.server.host = values.host;
  if (values.port !== undefined) config.server.port = nonNegativeInt('--port', values.port);
  if (values['http-engine'] !== undefined) {
    const e = values['http-engine'];
    if (e !== 'uws' && e !== 'node') fail(`--http-engine must be uws or node, got "${e}"`);
    config.server.http_engine = e;
  }
  if (values['log-level'] !== undefined) config.logging.level = values['log-level'].toLowerCase();
  if (values['log-format'] !== undefined) {
    const f = values['log-format'];
    if (f !== 'text' && f !== 'json') fail(`--log-format must be text or json, got "${f}"`);
    config.logging.format = f;
  }
  if (values['shutdown-timeout'] !== undefined) config.server.shutdown_timeout = nonNegativeInt('--shutdown-timeout', values['shutdown-timeout']);
  if (values['max-object-size'] !== undefined) config.server.max_object_size = nonNegativeInt('--max-object-size', values['max-object-size']);
  return config;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = buildConfig(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) fail((e as Error).message);
    throw e;
  }
  const log = createLogger(config.logging.level, config.logging.format);
  const server = await createServer(config, { logger: log });
  const port = await server.listen();
  process.stdout.write(`Starting BleepStore on ${config.server.host}:${port} (region=${config.server.region}, engine=${server.engine})\n`);
  // From process start (module loading included) to accepting requests.
  log.info(`Ready in ${Math.round(process.uptime() * 1000)} ms`, { port, engine: server.engine });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1); // a second signal exits at once
    stopping = true;
    log.info(`${signal} received; draining for up to ${config.server.shutdown_timeout}s`);
    server.close().then(
      () => process.exit(0),
      (e: Error) => {
        log.error('shutdown failed', { error: e.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => fail(e.stack ?? e.message));
