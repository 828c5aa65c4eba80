// Unauthenticated infrastructure endpoints (observability.md §1). They are infra only for
// GET/HEAD without SigV4 credentials (s3-api.md §1.2), so a bucket named e.g. "health" stays
// reachable with a signed request.
import { performance } from 'node:perf_hooks';
import type { HttpRequest, HttpResponse } from '../http/types.js';
import type { MetadataStore } from '../metadata/types.js';
import type { Metrics } from '../observability/metrics.js';
import { S3Error } from '../s3/errors.js';
import type { StorageBackend } from '../storage/types.js';
import type { SwaggerDocs } from './docs.js';

export interface InfraDeps {
  metadata: MetadataStore;
  storage: StorageBackend;
  /** observability.health_check */
  healthCheck: boolean;
  /** False until startup recovery finished, and again while draining. */
  isReady: () => boolean;
  /** Undefined when observability.metrics is false. */
  metrics?: Metrics;
  /** The served /openapi.json bytes. */
  openApi: () => Buffer;
  docs: SwaggerDocs;
}

const INFRA_PATHS: ReadonlySet<string> = new Set(['/health', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']);

export function isInfraRequest(req: HttpRequest): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') &&
    (INFRA_PATHS.has(req.rawPath) || req.rawPath.startsWith('/docs/')) &&
    req.headers['authorization'] === undefined &&
    !req.rawQuery.includes('X-Amz-Algorithm')
  );
}

export interface ProbeResult {
  status: 'ok' | 'error';
  latency_ms: number;
  error?: string;
}

async function probe(check: () => Promise<void>): Promise<ProbeResult> {
  const started = performance.now();
  const latency = (): number => Math.round((performance.now() - started) * 10) / 10;
  try {
    await check();
    return { status: 'ok', latency_ms: latency() };
  } catch (e) {
    return { status: 'error', latency_ms: latency(), error: e instanceof Error ? e.message : String(e) };
  }
}

function json(status: number, value: unknown): HttpResponse {
  return { status, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) };
}

/** A disabled endpoint answers like the S3 resource of that name would if it did not exist. */
function disabled(req: HttpRequest): never {
  throw new S3Error('NoSuchBucket', undefined, { BucketName: req.rawPath.slice(1) });
}

export async function serveInfra(req: HttpRequest, deps: InfraDeps): Promise<HttpResponse> {
  const path = req.rawPath;
  switch (path) {
    case '/healthz':
      if (!deps.healthCheck) disabled(req);
      return { status: 200, headers: {} };
    case '/readyz': {
      if (!deps.healthCheck) disabled(req);
      if (!deps.isReady()) return { status: 503, headers: {} };
      const [m, s] = await Promise.all([probe(() => deps.metadata.ping()), probe(() => deps.storage.healthCheck())]);
      // Draining may have begun while the probes ran.
      const ready = m.status === 'ok' && s.status === 'ok' && deps.isReady();
      return { status: ready ? 200 : 503, headers: {} };
    }
    case '/health': {
      if (!deps.healthCheck) return json(200, { status: 'ok' });
      const [metadata, storage] = await Promise.all([probe(() => deps.metadata.ping()), probe(() => deps.storage.healthCheck())]);
      const healthy = metadata.status === 'ok' && storage.status === 'ok';
      return json(healthy ? 200 : 503, { status: healthy ? 'ok' : 'degraded', checks: { metadata, storage } });
    }
    case '/metrics': {
      if (deps.metrics === undefined) disabled(req);
      const text = await deps.metrics.exposition();
      return { status: 200, headers: { 'Content-Type': deps.metrics.contentType }, body: Buffer.from(text) };
    }
    case '/openapi.json':
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body: deps.openApi() };
    default: {
      const page = await deps.docs.serve(path);
      if (page === undefined) throw new S3Error('NoSuchKey', undefined, { Key: path.slice('/docs/'.length) });
      return page;
    }
  }
}
