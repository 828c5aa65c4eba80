// Follows each request to the end of its response and reports it once: to the metrics (when
// enabled) and as the access-log line (observability.md §5). A streamed body is wrapped in a
// meter, so duration and bytes cover the whole transfer, not just the handler.
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { statusForbidsBody } from '../http/engine-common.js';
import type { HttpRequest, HttpResponse } from '../http/types.js';
import type { Logger } from '../log.js';
import type { RequestObserver, RequestOutcome } from '../s3/handler.js';
import { ResponseBodyMeter } from './body-meter.js';
import { normalisePath, type Metrics, type PathLabel } from './metrics.js';

/** Probes and the scrape endpoint would drown the access log (spec: not logged). */
const UNLOGGED_PATHS: ReadonlySet<PathLabel> = new Set<PathLabel>(['/metrics', '/health', '/healthz', '/readyz']);

export interface ObserverOptions {
  /** Undefined when observability.metrics is false. */
  metrics?: Metrics;
  /** Undefined when the log level is above info (no access log). */
  accessLog?: Logger;
}

export function createRequestObserver(options: ObserverOptions): RequestObserver | undefined {
  const { metrics, accessLog } = options;
  if (metrics === undefined && accessLog === undefined) return undefined;

  const finish = (req: HttpRequest, status: number, outcome: RequestOutcome, path: PathLabel, bytesSent: number): void => {
    try {
      const durationMs = performance.now() - outcome.startedAt;
      const operation = outcome.infra ? undefined : (outcome.operation ?? 'Unknown');
      metrics?.record({
        method: req.method,
        path,
        status,
        operation,
        bytesReceived: outcome.bytesReceived,
        bytesSent,
        durationSeconds: durationMs / 1000,
      });
      if (accessLog !== undefined && (!outcome.infra || !UNLOGGED_PATHS.has(path))) {
        const rounded = Math.round(durationMs * 100) / 100;
        const fields = {
          request_id: outcome.requestId,
          method: req.method,
          path: req.rawPath,
          operation,
          status,
          bytes_in: outcome.bytesReceived,
          bytes_out: bytesSent,
          duration_ms: rounded,
          error_code: outcome.errorCode,
        };
        const message = `${req.method} ${req.rawPath} ${status} ${rounded}ms`;
        if (status >= 500) accessLog.error(message, fields);
        else accessLog.info(message, fields);
      }
    } catch {
      // Observability is best effort; it never fails a request.
    }
  };

  return {
    countsBodies: true,
    onResponse(req: HttpRequest, res: HttpResponse, outcome: RequestOutcome): void {
      const path = normalisePath(req.rawPath);
      const status = res.status;
      const body = res.body;
      const sendsBody = req.method !== 'HEAD' && !statusForbidsBody(status);
      if (body instanceof Readable && sendsBody) {
        res.body = new ResponseBodyMeter(body, (bytes) => finish(req, status, outcome, path, bytes));
        return;
      }
      finish(req, status, outcome, path, sendsBody && body instanceof Buffer ? body.length : 0);
    },
  };
}
