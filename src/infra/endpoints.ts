// Unauthenticated infrastructure endpoints (observability.md §1). They are infra only for
// GET/HEAD without SigV4 credentials, so a bucket named e.g. "health" stays reachable.
import type { HttpRequest, HttpResponse } from '../http/types.js';
import type { MetadataStore } from '../metadata/types.js';
import type { StorageBackend } from '../storage/types.js';

export interface InfraDeps {
  metadata: MetadataStore;
  storage: StorageBackend;
  healthCheck: boolean;
  /** False until startup recovery finished, and again while draining. */
  isReady: () => boolean;
}

const INFRA_PATHS: ReadonlySet<string> = new Set(['/health', '/healthz', '/readyz']);

export function isInfraRequest(req: HttpRequest): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') &&
    INFRA_PATHS.has(req.rawPath) &&
    req.headers['authorization'] === undefined &&
    !req.rawQuery.includes('X-Amz-Algorithm')
  );
}

async function probe(check: () => Promise<void>): Promise<{ status: 'ok' | 'error'; error?: string }> {
  try {
    await check();
    return { status: 'ok' };
  } catch (e) {
    return { status: 'error', error: (e as Error).message };
  }
}

function json(status: number, value: unknown): HttpResponse {
  return { status, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(value)) };
}

export async function serveInfra(req: HttpRequest, deps: InfraDeps): Promise<HttpResponse> {
  switch (req.rawPath) {
    case '/healthz':
      return deps.healthCheck ? { status: 200, headers: {} } : json(404, { error: 'not found' });
    case '/readyz': {
      if (!deps.healthCheck) return json(404, { error: 'not found' });
      if (!deps.isReady()) return { status: 503, headers: {} };
      const [m, s] = await Promise.all([probe(() => deps.metadata.ping()), probe(() => deps.storage.healthCheck())]);
      return { status: m.status === 'ok' && s.status === 'ok' ? 200 : 503, headers: {} };
    }
    default: {
      if (!deps.healthCheck) return json(200, { status: 'ok' });
      const [metadata, storage] = await Promise.all([probe(() => deps.metadata.ping()), probe(() => deps.storage.healthCheck())]);
      const healthy = metadata.status === 'ok' && storage.status === 'ok';
      return json(healthy ? 200 : 503, { status: healthy ? 'ok' : 'degraded', checks: { metadata, storage } });
    }
  }
}
