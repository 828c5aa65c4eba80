// Every request the AWS gateway makes goes through S3Calls.run: throttling and transient failures
// are retried with backoff (the SDK's own retries are off, so attempts do not multiply), and the
// provider's answer is mapped to what the rest of BleepStore understands:
//   404 → StorageNotFoundError, 416 → RangeError, 403 → AwsAccessDeniedError,
//   429 / 503 SlowDown → BackendUnavailableError(throttled), 5xx / network → BackendUnavailableError.
import type { S3Client } from '@aws-sdk/client-s3';
import { BackendUnavailableError, DEFAULT_RETRY_POLICY, isTransientNetworkError, withRetry, type FailureKind, type RetryPolicy } from '../cloud/retry.js';
import { StorageNotFoundError } from './types.js';

/** The backing bucket refused our credentials (403): a configuration problem, not a missing object. */
export class AwsAccessDeniedError extends Error {
  constructor(what: string, cause: unknown) {
    super(`AWS S3 denied access to ${what} (check storage.aws credentials and bucket policy): ${messageOf(cause)}`);
    this.name = 'AwsAccessDeniedError';
  }
}

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message || e.name : String(e);
}

export function httpStatusOf(e: unknown): number | undefined {
  const status = (e as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

export function errorCodeOf(e: unknown): string | undefined {
  const name = (e as SdkErrorShape | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

const THROTTLING_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequests', 'TooManyRequestsException']);
const TRANSIENT_CODES = new Set(['RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeoutException']);

export function classifyS3Failure(e: unknown): FailureKind {
  const code = errorCodeOf(e);
  if (code !== undefined && THROTTLING_CODES.has(code)) return 'throttled';
  const status = httpStatusOf(e);
  if (status === 429 || (status === 503 && code === 'SlowDown')) return 'throttled';
  if (status !== undefined && status >= 500 && status !== 501) return 'transient';
  if (code !== undefined && TRANSIENT_CODES.has(code)) return 'transient';
  if (isTransientNetworkError(e)) return 'transient';
  // A connection dropped mid-response surfaces without a status or a known code.
  if (status === undefined && (code === 'AbortError' || code === 'Error') && /socket|ECONNRESET|other side closed/i.test(messageOf(e))) return 'transient';
  return 'fatal';
}

export function isNotFound(e: unknown): boolean {
  const code = errorCodeOf(e);
  return httpStatusOf(e) === 404 || code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchUpload';
}

/** The target does not implement the operation (s3rver: UploadPartCopy, AbortMultipartUpload). */
export function isUnsupported(e: unknown): boolean {
  const status = httpStatusOf(e);
  const code = errorCodeOf(e);
  return status === 501 || status === 405 || code === 'NotImplemented' || code === 'MethodNotAllowed';
}

export class S3Calls {
  constructor(
    readonly client: S3Client,
    /** The backing bucket. */
    readonly bucket: string,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {}

  /**
   * Runs one provider call (safe to repeat: every op rebuilds its request body) with retries, and
   * maps the failure. `what` names the BleepStore item for messages, e.g. 'bkt/key'.
   */
  async run<T>(what: string, op: (attempt: number) => Promise<T>): Promise<T> {
    let attempt = 0;
    try {
      return await withRetry('AWS S3', () => op(++attempt), classifyS3Failure, this.policy);
    } catch (e) {
      throw mapS3Failure(what, e);
    }
  }
}

export function mapS3Failure(what: string, e: unknown): unknown {
  if (e instanceof BackendUnavailableError || e instanceof StorageNotFoundError) return e;
  if (isNotFound(e)) return new StorageNotFoundError(what);
  const status = httpStatusOf(e);
  if (status === 416 || errorCodeOf(e) === 'InvalidRange') return new RangeError(`range outside ${what}: ${messageOf(e)}`);
  if (status === 403) return new AwsAccessDeniedError(what, e);
  return e;
}
