// The programmatic API: createServer(config) builds every layer, runs the crash-only startup
// sequence (spec/operations.md §3.1) and listens. The CLI and the e2e tests both use it.
import { SigV4Verifier } from './auth/sigv4.js';
import type { Config } from './config.js';
import { createHttpEngine } from './http/engine.js';
import type { HttpEngine } from './http/types.js';
import { createLogger, type Logger } from './log.js';
import { openMetadataStore } from './metadata/factory.js';
import type { MetadataStore } from './metadata/types.js';
import { createS3Handler } from './s3/handler.js';
import { defaultOwnerId } from './s3/identity.js';
import { nowIso } from './s3/time.js';
import { openStorage } from './storage/factory.js';
import type { StorageBackend } from './storage/types.js';

/** Multipart uploads older than this are reaped at startup (operations.md §3.1 step 5). */
export const MULTIPART_TTL_SECONDS = 7 * 24 * 3600;

export interface BleepStoreServer {
  readonly config: Config;
  readonly engine: HttpEngine['name'];
  /** The bound port (after listen()). */
  readonly port: number;
  listen(): Promise<number>;
  /** Stops accepting, drains in-flight requests up to server.shutdown_timeout, releases resources. */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
}

async function seedDefaultCredential(metadata: MetadataStore, config: Config): Promise<void> {
  const { access_key, secret_key } = config.auth;
  await metadata.putCredential({
    access_key_id: access_key,
    secret_key,
    owner_id: defaultOwnerId(access_key),
    display_name: access_key,
    active: true,
    created_at: nowIso(),
  });
}

async function reapExpiredUploads(metadata: MetadataStore, storage: StorageBackend, log: Logger): Promise<void> {
  try {
    const reaped = await metadata.reapExpiredUploads(MULTIPART_TTL_SECONDS);
    for (const u of reaped) {
      await storage.deleteUploadParts(u.upload_id).catch((e: Error) => log.warn('reaper: part cleanup failed', { uploadId: u.upload_id, error: e.message }));
    }
    log.info(`Reaped ${reaped.length} expired multipart uploads`);
  } catch (e) {
    log.warn('reaper failed', { error: (e as Error).message });
  }
}

export async function createServer(config: Config, options: ServerOptions = {}): Promise<BleepStoreServer> {
  const log = options.logger ?? createLogger(config.logging.level, config.logging.format);
  let ready = false;

  // Every start is a recovery: open (WAL replay), schema, temp cleanup, seeding, reaping.
  const metadata = await openMetadataStore(config);
  const storage = await openStorage(config);
  await seedDefaultCredential(metadata, config);
  await reapExpiredUploads(metadata, storage, log);

  const verifier = new SigV4Verifier(metadata);
  const handler = createS3Handler({
    config,
    metadata,
    storage,
    log,
    verifier,
    infra: { metadata, storage, healthCheck: config.observability.health_check, isReady: () => ready },
  });
  const engine = await createHttpEngine(config.server.http_engine, handler, (msg) => log.info(msg));
  let port = 0;

  return {
    config,
    engine: engine.name,
    get port() {
      return port;
    },
    async listen() {
      port = await engine.listen({ host: config.server.host, port: config.server.port });
      ready = true;
      return port;
    },
    async close() {
      ready = false;
      await engine.close(config.server.shutdown_timeout * 1000);
      await storage.close();
      await metadata.close();
    },
  };
}
