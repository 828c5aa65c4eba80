// The request pipeline every request goes through, whatever the HTTP engine:
// request id → infra endpoints → address → SigV4 (one verifier, every route) → route → operation
// → error mapping → common headers. It never throws.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { AuthResult, SigV4Verifier } from '../auth/sigv4.js';
import { ClientAbortError, type HttpRequest, type HttpResponse, type RequestHandler } from '../http/types.js';
import { BackendUnavailableError } from '../cloud/retry.js';
import { isInfraRequest, serveInfra, type InfraDeps } from '../infra/endpoints.js';
import { RequestBodyMeter } from '../observability/body-meter.js';
import { parseAddress } from './address.js';
import type { RequestContext, S3Deps } from './context.js';
import { errorResponse } from './error-response.js';
import { S3Error } from './errors.js';
import { defaultOwnerId } from './identity.js';
import { OPERATION_HANDLERS } from './operations.js';
import { parseQuery } from './query.js';
import { resolveRoute, type OperationName, type ResourceLevel } from './routes.js';

export interface PipelineDeps extends S3Deps {
  verifier: SigV4Verifier;
  infra: InfraDeps;
}

/** What the pipeline learned about a request, for logs and metrics. */
export interface RequestOutcome {
  readonly requestId: string;
  /** performance.now() when the request entered the pipeline. */
  readonly startedAt: number;
  /** Answered by an infrastructure endpoint (/health, /metrics, /docs, ...), not by S3. */
  infra: boolean;
  /** Undefined when routing failed (or for infra requests). */
  operation?: OperationName;
  errorCode?: string;
  /** Request body bytes the pipeline read (0 when the body was not metered). */
  bytesReceived: number;
}

/** Per-request instrumentation (metrics, access log). Must never throw. */
export interface RequestObserver {
  /** Whether request bodies are metered for byte counts. */
  readonly countsBodies: boolean;
  /** The response is final but not written yet; the observer may wrap a streamed body to follow it. */
  onResponse(req: HttpRequest, res: HttpResponse, outcome: RequestOutcome): void;
}

/** Whether the request carries a body at all (framing headers present and non-zero). */
function hasBody(req: HttpRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export function createS3Handler(deps: PipelineDeps, observer?: RequestObserver): RequestHandler {
  const { config, log } = deps;
  const bodyIdleTimeoutMs = config.server.body_idle_timeout * 1000;
  const meterBodies = bodyIdleTimeoutMs > 0 || observer?.countsBodies === true;
  const anonymousAuth: AuthResult = {
    principal: { accessKeyId: config.auth.access_key, ownerId: defaultOwnerId(config.auth.access_key), displayName: config.auth.access_key },
    payload: { kind: 'unsigned' },
  };

  async function dispatch(req: HttpRequest, outcome: RequestOutcome): Promise<HttpResponse> {
    if (isInfraRequest(req)) {
      outcome.infra = true;
      return serveInfra(req, deps.infra);
    }
    const address = parseAddress(req.rawPath, req.headers['host'], config.server.virtual_host_domains);
    const query = parseQuery(req.rawQuery);
    const level: ResourceLevel = address.bucket === undefined ? 'service' : address.key === undefined ? 'bucket' : 'object';
    // Resolved before auth only to name the operation in logs and metrics; a routing error is
    // raised after auth, as before, so auth errors keep precedence.
    let operation: OperationName | undefined;
    let routeError: unknown;
    try {
      operation = resolveRoute(req.method, level, query, req.headers);
    } catch (e) {
      routeError = e;
    }
    outcome.operation = operation;
    const auth = config.auth.enabled ? await deps.verifier.verify(req) : anonymousAuth;
    if (operation === undefined) throw routeError;
    const handler = OPERATION_HANDLERS[operation];
    const ctx: RequestContext = {
      req,
      deps,
      requestId: outcome.requestId,
      operation,
      bucket: address.bucket ?? '',
      key: address.key ?? '',
      query,
      headers: req.headers,
      principal: auth.principal,
      payload: auth.payload,
      body: auth.bufferedBody ? Readable.from([auth.bufferedBody]) : req.body,
    };
    return handler(ctx);
  }

  return async (engineReq) => {
    const startedAt = performance.now();
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const hostId = randomBytes(24).toString('base64');
    const outcome: RequestOutcome = { requestId, startedAt, infra: false, bytesReceived: 0 };
    // The metered body counts bytes and fails a stalled upload with RequestTimeout.
    const meter = meterBodies && hasBody(engineReq) ? new RequestBodyMeter(engineReq.body, bodyIdleTimeoutMs) : undefined;
    const req: HttpRequest = meter === undefined ? engineReq : { ...engineReq, body: meter };
    let res: HttpResponse;
    try {
      res = await dispatch(req, outcome);
    } catch (e) {
      let err: S3Error;
      if (e instanceof S3Error) {
        err = e;
      } else if (e instanceof BackendUnavailableError) {
        // A cloud metadata engine or storage gateway stayed throttled/unreachable through its retries.
        log.warn('backend unavailable', { requestId, method: req.method, path: req.rawPath, error: e.message });
        err = new S3Error(e.throttled ? 'SlowDown' : 'ServiceUnavailable');
      } else if (e instanceof ClientAbortError) {
        // Nobody is listening any more; answer something well-formed for the engine to drop.
        err = new S3Error('IncompleteBody');
      } else {
        log.error('internal error', { requestId, method: req.method, path: req.rawPath, error: (e as Error)?.stack ?? String(e) });
        err = new S3Error('InternalError');
      }
      outcome.errorCode = err.code;
      res = errorResponse(err, safeDecode(req.rawPath), requestId, hostId);
      if (req.method === 'HEAD') {
        res.body = undefined;
        res.headers['Content-Length'] = '0';
      }
    }
    res.headers['x-amz-request-id'] = requestId;
    res.headers['x-amz-id-2'] = hostId;
    res.headers['Server'] = 'BleepStore';
    if (res.body === undefined && res.headers['Content-Length'] === undefined) res.headers['Content-Length'] = '0';
    if (meter !== undefined) {
      outcome.bytesReceived = meter.bytes;
      meter.release();
    }
    observer?.onResponse(req, res, outcome);
    return res;
  };
}
