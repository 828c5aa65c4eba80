// Retry with backoff for calls to cloud services (the DynamoDB/Firestore/Cosmos metadata engines
// and the AWS/GCS/Azure storage gateways). Throttling and transient failures are retried with
// exponential backoff and full jitter; when the attempts run out the caller gets a
// BackendUnavailableError, which the S3 layer answers with 503 SlowDown or ServiceUnavailable.
// Anything classified as fatal is rethrown at once (the S3 layer answers InternalError).

export type FailureKind = 'throttled' | 'transient' | 'fatal';

export class BackendUnavailableError extends Error {
  constructor(
    readonly service: string,
    /** True when the service said it was throttling us (→ SlowDown rather than ServiceUnavailable). */
    readonly throttled: boolean,
    override readonly cause: unknown,
  ) {
    super(`${service} unavailable${throttled ? ' (throttled)' : ''}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'BackendUnavailableError';
  }
}

export interface RetryPolicy {
  /** Total attempts, including the first. */
  attempts: number;
  /** Backoff before retry n (1-based) is random in [0, baseDelayMs * 2^(n-1)], capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 50, maxDelayMs: 2000 };

/** Network-level failures every SDK surfaces the same way: worth a retry. */
const TRANSIENT_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'ECONNABORTED']);

export function isTransientNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code);
}

/** Classifies by HTTP status: 429 throttled, 408/500/502/503/504 transient, else fatal. */
export function classifyHttpStatus(status: number | undefined): FailureKind {
  if (status === 429) return 'throttled';
  if (status === 408 || status === 500 || status === 502 || status === 503 || status === 504) return 'transient';
  return 'fatal';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs `op`, retrying throttled/transient failures per `policy`. Only use it for operations that
 * are safe to repeat (idempotent, or conditional so a repeat fails cleanly).
 */
export async function withRetry<T>(service: string, op: () => Promise<T>, classify: (e: unknown) => FailureKind, policy: RetryPolicy = DEFAULT_RETRY_POLICY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      const kind = classify(e);
      if (kind === 'fatal') throw e;
      if (attempt >= policy.attempts) throw new BackendUnavailableError(service, kind === 'throttled', e);
      await sleep(Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)));
    }
  }
}
