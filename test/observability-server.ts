// In-process BleepStore on a private temp dir for the observability tests: real sockets on
// 127.0.0.1, real SQLite and local storage, log lines captured instead of written to stderr.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createServer, type BleepStoreServer } from '../src/server.js';

export const ENGINES = ['uws', 'node'] as const;
export type Engine = (typeof ENGINES)[number];

export interface TestServer {
  server: BleepStoreServer;
  config: Config;
  dir: string;
  endpoint: string;
  port: number;
  /** Every log line so far (JSON unless logFormat text). */
  logs: string[];
  /** Stops the server; removes the temp dir unless keepDir. */
  close(options?: { keepDir?: boolean }): Promise<void>;
}

export interface TestServerOptions {
  engine: Engine;
  /** Adjusts the config before the server starts (auth is off unless turned back on here). */
  tweak?: (config: Config) => void;
  logFormat?: 'json' | 'text';
  /** Reuse a data dir (restart); default a fresh one. */
  dir?: string;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'bleepstore-obs-'));
  const config = defaultConfig();
  config.server.host = '127.0.0.1';
  config.server.port = 0;
  config.server.http_engine = options.engine;
  config.auth.enabled = false;
  config.metadata.sqlite.path = join(dir, 'metadata.db');
  config.storage.local.root_dir = join(dir, 'objects');
  config.logging.format = options.logFormat ?? 'json';
  options.tweak?.(config);
  const logs: string[] = [];
  const logger = createLogger(config.logging.level, config.logging.format, (line) => logs.push(line));
  const server = await createServer(config, { logger });
  const port = await server.listen();
  return {
    server,
    config,
    dir,
    endpoint: `http://127.0.0.1:${port}`,
    port,
    logs,
    async close(closeOptions = {}) {
      await server.close();
      if (!closeOptions.keepDir && options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on a fresh connection. */
export function call(endpoint: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: url.hostname,
        port: Number(url.port),
        method,
        path,
        agent: false,
        headers: { ...(body !== undefined ? { 'content-length': String(body.length) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The <Code> of an S3 XML error body. */
export function s3ErrorCode(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}
