// The programmatic API: createServer(config) builds every layer, runs the crash-only startup
// sequence (spec/operations.md §3.1) and listens. The CLI and the e2e tests both use it.
import { SigV4Verifier } from './auth/sigv4.js';
import type { Config } from './config.js';
import { createHttpEngine } from './http/engine.js';
import type { HttpEngine } from './http/types.js';
import { SwaggerDocs } from './infra/docs.js';
import { buildOpenApiDocument, serializeOpenApi } from './infra/openapi.js';
import { reapExpiredUploads, recoverCommitIntents, seedDefaultCredential, sweepOrphanedParts } from './infra/recovery.js';
import { createLogger, normaliseLevel, type Logger } from './log.js';
import { openMetadataStore } from './metadata/factory.js';
import type { MetadataStore } from './metadata/types.js';
import { Metrics, type InventoryCounts } from './observability/metrics.js';
import { createRequestObserver } from './observability/request-observer.js';
import { createS3Handler } from './s3/handler.js';
import { openStorage } from './storage/factory.js';
import { MemoryStorage } from './storage/memory.js';

/** Default of metadata.multipart_ttl_seconds: uploads older than this are reaped at startup. */
export const MULTIPART_TTL_SECONDS = 7 * 24 * 3600;

export interface BleepStoreServer {
  readonly config: Config;
  readonly engine: HttpEngine['name'];
  /** The bound port (after listen()). */
  readonly port: number;
  /** True between listen() and the start of close(); what /readyz reports (with the probes). */
  readonly ready: boolean;
  listen(): Promise<number>;
  /** Stops accepting, drains in-flight requests up to server.shutdown_timeout, releases resources. */
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
}

/** The gauges are read from metadata when scraped, so they are exact whatever wrote the rows. */
function inventoryOf(metadata: MetadataStore): InventoryCounts {
  return {
    buckets: async () => (await metadata.listBuckets()).length,
    objects: async () => {
      let n = 0;
      for (const bucket of await metadata.listBuckets()) n += await metadata.countObjects(bucket.name);
      return n;
    },
  };
}

export async function createServer(config: Config, options: ServerOptions = {}): Promise<BleepStoreServer> {
  const log = options.logger ?? createLogger(config.logging.level, config.logging.format);
  let ready = false;

  // Every start is a recovery: open (WAL replay) + schema, storage init (clears .tmp/), seeding,
  // reaping expired uploads and part data nothing references any more.
  const metadata = await openMetadataStore(config);
  await recoverCommitIntents(metadata, log); // local staged files, before storage init empties .tmp/
  const storage = await openStorage(config);
  await recoverCommitIntents(metadata, log, storage); // remote staged writes of cloud gateways
  if (storage instanceof MemoryStorage && storage.snapshotWarning !== undefined) log.warn(`memory storage snapshot: ${storage.snapshotWarning}`);
  await seedDefaultCredential(metadata, config);
  await reapExpiredUploads(metadata, storage, config.metadata.multipart_ttl_seconds, log);
  await sweepOrphanedParts(metadata, storage, log);

  const metrics = config.observability.metrics ? new Metrics(inventoryOf(metadata)) : undefined;
  const openApiDocument = buildOpenApiDocument({ metrics: metrics !== undefined, healthCheck: config.observability.health_check });
  let openApiBytes = serializeOpenApi(openApiDocument, config.server.port);

  const verifier = new SigV4Verifier(metadata);
  const level = normaliseLevel(config.logging.level);
  const observer = createRequestObserver({ metrics, accessLog: level === 'debug' || level === 'info' ? log : undefined });
  const handler = createS3Handler(
    {
      config,
      metadata,
      storage,
      log,
      verifier,
      infra: {
        metadata,
        storage,
        healthCheck: config.observability.health_check,
        isReady: () => ready,
        metrics,
        openApi: () => openApiBytes,
        docs: new SwaggerDocs(),
      },
    },
    observer,
  );
  const engine = await createHttpEngine(config.server.http_engine, handler, (msg) => log.info(msg));
  if (engine.name === 'uws' && config.server.max_connections > 0) {
    log.warn('server.max_connections is not enforced by the uws engine; use http_engine: node to cap connections');
  }
  let port = 0;

  return {
    config,
    engine: engine.name,
    get port() {
      return port;
    },
    get ready() {
      return ready;
    },
    async listen() {
      port = await engine.listen({
        host: config.server.host,
        port: config.server.port,
        keepAliveTimeoutSeconds: config.server.keep_alive_timeout,
        maxHeaderSize: config.server.max_header_size,
        maxConnections: config.server.max_connections,
      });
      openApiBytes = serializeOpenApi(openApiDocument, port);
      ready = true;
      return port;
    },
    async close() {
      // Not ready from the first moment: probes on connections still open see 503 while draining.
      ready = false;
      await engine.close(config.server.shutdown_timeout * 1000);
      await storage.close();
      await metadata.close();
    },
  };
}
