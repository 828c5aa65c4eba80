// Google Cloud Storage gateway backend (spec/storage.md §5, §5.2). All BleepStore buckets share
// one GCS bucket: objects are `{prefix}{bucket}/{key}`, parts `{prefix}.parts/{upload_id}/{n}`.
// S3 bucket names never start with ".", so `.parts/`, `.tmp/` and `.long-keys/` cannot collide
// with them. A name GCS cannot store (see objectName) goes to `{prefix}.long-keys/{bucket}/{sha256}`.
//
// Staging (the StagedWrite contract): a body is uploaded to a private temp object
// `{prefix}.tmp/{uuid}`; commit() publishes it with a server-side copy (metadata-only inside one
// bucket and storage class, atomic per name) and deletes the temp; discard() deletes the temp.
// Concurrent puts of one key each have their own temp, and the last copy wins whole. Temps of a
// process that died before commit/discard stay behind: a bucket lifecycle rule deleting
// `{prefix}.tmp/` objects older than a day removes them (several servers may share the bucket,
// so startup cannot tell abandoned temps from live ones).
// Each staged write carries a recoveryRef: a kill -9 between commit() and the metadata commit is
// repaired at the next start through a write token the copy carries (gcp-recovery.ts).
// Assembly composes the parts; on a GCS-compatible server without compose (the firebase-tools
// emulator) it streams them through instead, into the same kind of temp (see assembleParts).
// Nothing is ever buffered whole: uploads stream, reads stream ranged.
import { createHash, randomUUID } from 'node:crypto';
import { pipeline as pipelineStreams, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage, type Bucket, type File } from '@google-cloud/storage';
import { BackendUnavailableError, classifyHttpStatus, isTransientNetworkError, withRetry, type FailureKind } from '../cloud/retry.js';
import type { Config } from '../config.js';
import { planCompose, roundsOf, type ComposeStep } from './gcp-compose.js';
import { encodeRecoveryRef, stagedWriteCommitted } from './gcp-recovery.js';
import { assertPartNumber, assertSafeName } from './key-path.js';
import { newWriteToken, tokenMetadata } from './staged-write-ref.js';
import { StorageNotFoundError, type ByteRange, type ReadResult, type StagedWrite, type StorageBackend } from './types.js';

export type GcpStorageSettings = Config['storage']['gcp'];

const SERVICE = 'Google Cloud Storage';
/** Parallel compose/delete calls per round; enough to hide latency without a request storm. */
const CALL_CONCURRENCY = 8;
const LIST_PAGE_SIZE = 1000;
/** GCS's limit on an object name, in UTF-8 bytes. */
export const MAX_GCS_NAME_BYTES = 1024;
/** Staged bytes are opaque to GCS; S3 keeps the real Content-Type in the metadata row. */
const STAGED_CONTENT_TYPE = 'application/octet-stream';

/** The HTTP status of an SDK error: ApiError.code, or a Gaxios response status. */
function httpStatusOf(e: unknown): number | undefined {
  const err = e as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  for (const candidate of [err?.code, err?.status, err?.response?.status]) {
    const n = typeof candidate === 'string' && /^\d{3}$/.test(candidate) ? Number(candidate) : candidate;
    if (typeof n === 'number' && n >= 100 && n < 600) return n;
  }
  return undefined;
}

export function classifyGcsError(e: unknown): FailureKind {
  if (isTransientNetworkError(e)) return 'transient';
  return classifyHttpStatus(httpStatusOf(e));
}

/** Maps an SDK error for callers: 404 → StorageNotFoundError, 416 → RangeError. */
function translate(e: unknown, what: string): unknown {
  const status = httpStatusOf(e instanceof BackendUnavailableError ? e.cause : e);
  if (status === 404) return new StorageNotFoundError(what);
  if (status === 416) return new RangeError(`range outside ${what}`);
  return e;
}

/** Runs an idempotent SDK call with retries; errors come back translated. */
async function call<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(SERVICE, op, classifyGcsError);
  } catch (e) {
    throw translate(e, what);
  }
}

/**
 * Runs fn over items, at most `limit` at a time. After a failure no new item starts, and the first
 * error is thrown only once the calls in flight have settled, so cleanup never races them.
 */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      try {
        await fn(items[next++] as T);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * Whether a compose request failed because the server has no compose at all: the firebase-tools
 * Storage emulator answers routes it lacks with a bare 501 whose text body is "Not Implemented"
 * (express sendStatus), or the JSON string "endpoint not implemented" when STORAGE_EMULATOR_DEBUG
 * is set. Only that exact answer counts: real GCS supports compose, and any other failure
 * (including a 501 with a GCS JSON error) must surface rather than switch strategies.
 */
function isComposeNotImplemented(e: unknown): boolean {
  if (httpStatusOf(e) !== 501) return false;
  const body = (e as { response?: { body?: unknown } } | null)?.response?.body;
  return body === 'Not Implemented' || body === 'endpoint not implemented';
}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Passes bytes through and fails at the end if their MD5 differs from the server's (base64). */
class Md5Check extends Transform {
  private readonly hash = createHash('md5');
  constructor(
    private readonly expectedBase64: string,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    const actual = this.hash.digest('base64');
    done(actual === this.expectedBase64 ? null : new Error(`${SERVICE} sent ${this.what} with MD5 ${actual}, expected ${this.expectedBase64}`));
  }
}

function headerOf(headers: unknown, name: string): string | undefined {
  const value = (headers as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** Bytes a successful (2xx) media response will yield for `range`; throws RangeError if unsatisfiable. */
function bodySize(statusCode: number, headers: unknown, range: ByteRange | undefined, what: string): number {
  if (statusCode === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerOf(headers, 'content-range') ?? '');
    if (m) return Number(m[2]) - Number(m[1]) + 1;
  }
  const length = headerOf(headers, 'x-goog-stored-content-length') ?? headerOf(headers, 'content-length');
  if (length === undefined) throw new Error(`${SERVICE} sent no length for ${what}`);
  const total = Number(length);
  if (range === undefined) return total;
  // A 200 to a ranged request means the server sent the whole object: some servers (the emulator)
  // answer an unsatisfiable range that way instead of 416.
  if (range.start >= total) throw new RangeError(`range ${range.start}-${range.end} is outside ${what} (${total} bytes)`);
  if (range.start === 0 && range.end >= total - 1) return total;
  throw new Error(`${SERVICE} ignored the range ${range.start}-${range.end} of ${what}`);
}

export class GcpStorage implements StorageBackend {
  readonly stagesToFiles = false;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  /** Set once the server answered a compose with "not implemented": later assemblies stream at once. */
  private composeUnavailable = false;

  constructor(settings: GcpStorageSettings) {
    if (!settings.bucket) throw new Error('storage.gcp.bucket is required');
    this.prefix = settings.prefix;
    // SDK retries are off: withRetry is the one retry policy, and it knows which calls are idempotent.
    // STORAGE_EMULATOR_HOST (read by the SDK here, at construction) redirects it to an emulator.
    const client = new Storage({
      projectId: settings.project || undefined,
      keyFilename: settings.credentials_file || undefined,
      retryOptions: { autoRetry: false },
    });
    this.bucket = client.bucket(settings.bucket);
  }

  async init(): Promise<void> {
    try {
      await this.healthCheck();
    } catch (e) {
      throw new Error(`storage.gcp: cannot list bucket ${JSON.stringify(this.bucket.name)}: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {}

  async healthCheck(): Promise<void> {
    await call(`bucket ${this.bucket.name}`, () => this.bucket.getFiles({ maxResults: 1, autoPaginate: false }));
  }

  async putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite> {
    return this.stage(body, this.objectName(bucket, key));
  }

  async getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult> {
    return this.openRead(this.objectName(bucket, key), `object ${bucket}/${key}`, range);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    // A metadata GET rather than a bytes=0-0 read: a zero-byte object would answer that with 416.
    const [exists] = await call(`object ${bucket}/${key}`, () => this.bucket.file(this.objectName(bucket, key)).exists());
    return exists;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.deleteIgnoringMissing(this.objectName(bucket, key));
  }

  async putPart(_bucket: string, _key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite> {
    return this.stage(body, this.partName(uploadId, partNumber));
  }

  async getPart(uploadId: string, partNumber: number): Promise<ReadResult> {
    return this.openRead(this.partName(uploadId, partNumber), `part ${partNumber} of upload ${uploadId}`);
  }

  /**
   * Composes the parts (in rounds of ≤ 32, see gcp-compose.ts) into a temp object; commit()
   * publishes it like any staged write. Intermediates are named after that temp, so concurrent
   * assemblies of one key never share names and no user key can be hit.
   * On a server without compose (isComposeNotImplemented) the parts are streamed through this
   * process into the temp instead (assembleByStreaming); a single part is still a server-side copy.
   */
  async assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite> {
    const finalName = this.objectName(bucket, key);
    const partNames = partNumbers.map((n) => this.partName(uploadId, n));
    const what = `parts of upload ${uploadId}`;
    if (this.composeUnavailable && partNames.length > 1) return this.assembleByStreaming(partNames, finalName, what);
    const temp = this.tempName();
    const token = newWriteToken();
    const plan = planCompose(partNames, temp);
    let size = 0;
    try {
      for (const round of roundsOf(plan)) {
        await forEachLimited(round, CALL_CONCURRENCY, async (step) => {
          // Only the temp needs the token: commit() copies it, metadata included, into place.
          const stepSize = await this.runComposeStep(step, what, step.destination === temp ? tokenMetadata(token) : undefined);
          if (step.destination === temp) size = stepSize;
        });
      }
    } catch (e) {
      if (isComposeNotImplemented(e)) {
        // The first compose failed, so neither the temp nor (normally) any intermediate exists;
        // the intermediates are deleted anyway in case a server supports compose only partly.
        this.composeUnavailable = true;
        await this.deleteAllQuietly(plan.intermediates);
        return this.assembleByStreaming(partNames, finalName, what, temp, token);
      }
      await this.deleteAllQuietly([...plan.intermediates, temp]);
      throw e;
    }
    await this.deleteAllQuietly(plan.intermediates);
    return this.stagedWrite(temp, finalName, size, token);
  }

  /**
   * Assembly where the server has no compose: the parts are read in order and piped, one after
   * the other, into a single upload to the temp (by default a fresh one), exactly as putObject
   * stages a body: the same token metadata and content type the compose would set, MD5-checked,
   * the temp deleted on failure. Memory stays bounded: the next chunk is read only when the upload
   * has taken the last one. Not retried as a whole (like any upload): a transient failure answers
   * 503 and the client repeats CompleteMultipartUpload.
   */
  private async assembleByStreaming(partNames: readonly string[], finalName: string, what: string, temp?: string, token?: string): Promise<StagedWrite> {
    const openPart = (name: string): Promise<ReadResult> => this.openRead(name, what);
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const name of partNames) {
        // Leaving the loop early (the upload failed) destroys the part's download too.
        for await (const chunk of (await openPart(name)).stream) yield chunk as Buffer;
      }
    }
    return this.stage(Readable.from(concatenated(), { objectMode: false }), finalName, temp, token);
  }

  async deleteParts(_bucket: string, _key: string, uploadId: string): Promise<void> {
    await this.deleteUploadParts(uploadId);
  }

  async deleteUploadParts(uploadId: string): Promise<void> {
    assertSafeName(uploadId, 'upload id');
    await this.deletePrefix(`${this.prefix}.parts/${uploadId}/`);
  }

  /** Buckets are only name prefixes in the backing bucket. */
  async createBucket(bucket: string): Promise<void> {
    assertSafeName(bucket, 'bucket name');
  }

  /** The S3 layer deletes only empty buckets; this removes any bytes left orphaned under the name. */
  async deleteBucket(bucket: string): Promise<void> {
    assertSafeName(bucket, 'bucket name');
    await this.deletePrefix(`${this.prefix}${bucket}/`);
    await this.deletePrefix(this.longKeyArea(bucket));
  }

  /** See gcp-recovery.ts. */
  async stagedWriteCommitted(recoveryRef: string): Promise<boolean> {
    return stagedWriteCommitted(
      {
        customMetadataOf: async (name) => {
          try {
            const [metadata] = await call(name, () => this.bucket.file(name).getMetadata());
            return (metadata.metadata ?? {}) as Record<string, unknown>;
          } catch (e) {
            if (e instanceof StorageNotFoundError) return undefined;
            throw e;
          }
        },
        deleteTemp: async (name) => {
          // The ref comes from metadata; a damaged one must not delete a user's object.
          if (!name.startsWith(`${this.prefix}.tmp/`)) throw new Error(`not a temp object: ${JSON.stringify(name)}`);
          await this.deleteIgnoringMissing(name);
        },
      },
      recoveryRef,
    );
  }

  /**
   * The backing name of an object. A BleepStore key may itself be 1024 bytes, so with the prefix
   * and bucket in front the name can exceed what GCS accepts (1024 UTF-8 bytes, no CR or LF);
   * only such keys go to `{prefix}.long-keys/{bucket}/{sha256 of key}` instead (beyond the spec,
   * which cannot store them). Nothing lists the backing names: the metadata keeps the keys.
   */
  private objectName(bucket: string, key: string): string {
    assertSafeName(bucket, 'bucket name');
    const mapped = `${this.prefix}${bucket}/${key}`;
    if (Buffer.byteLength(mapped, 'utf8') <= MAX_GCS_NAME_BYTES && !/[\r\n]/.test(mapped)) return mapped;
    return `${this.longKeyArea(bucket)}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
  }

  private longKeyArea(bucket: string): string {
    return `${this.prefix}.long-keys/${bucket}/`;
  }

  private partName(uploadId: string, partNumber: number): string {
    assertSafeName(uploadId, 'upload id');
    assertPartNumber(partNumber);
    return `${this.prefix}.parts/${uploadId}/${partNumber}`;
  }

  private tempName(): string {
    return `${this.prefix}.tmp/${randomUUID()}`;
  }

  /**
   * Streams body into a temp object (fresh unless given, with `token`) with one resumable upload sent as a single request (no
   * chunkSize: the SDK then never buffers a chunk; production may want chunkSize for very large
   * bodies over flaky links, at the cost of one buffered chunk, but the test emulator cannot do
   * multi-chunk uploads). The body cannot be replayed, so the upload is not retried: a
   * throttled/transient failure surfaces as BackendUnavailableError at once.
   */
  private async stage(body: Readable, finalName: string, temp = this.tempName(), token = newWriteToken()): Promise<StagedWrite> {
    let bodyError: unknown;
    body.once('error', (e) => {
      bodyError = e;
    });
    const counter = new ByteCounter();
    try {
      await pipeline(
        body,
        counter,
        this.bucket.file(temp).createWriteStream({
          resumable: true,
          // MD5 is hashed natively and GCS stores it for uploaded (non-composite) objects; the SDK
          // compares it with the server's after the upload and deletes the object on a mismatch.
          validation: 'md5',
          // The token rides along when commit() copies the temp into place (gcp-recovery.ts).
          metadata: { contentType: STAGED_CONTENT_TYPE, metadata: tokenMetadata(token) },
        }),
      );
    } catch (e) {
      // An unfinished resumable upload never becomes an object; the delete covers a failure after it did.
      await this.deleteAllQuietly([temp]);
      if (bodyError !== undefined) throw bodyError;
      if (classifyGcsError(e) !== 'fatal') throw new BackendUnavailableError(SERVICE, classifyGcsError(e) === 'throttled', e);
      throw translate(e, `upload of ${finalName}`);
    }
    return this.stagedWrite(temp, finalName, counter.bytes, token);
  }

  /** `token` is the write token the temp carries in its custom metadata. */
  private stagedWrite(temp: string, finalName: string, size: number, token: string): StagedWrite {
    let settled = false;
    return {
      size,
      recoveryRef: encodeRecoveryRef({ name: finalName, token, temp }),
      commit: async () => {
        if (settled) throw new Error(`staged write of ${finalName} was already committed or discarded`);
        // Retried as a whole: copying the same temp again yields the same object. No destination
        // resource is sent, so the copy carries the temp's metadata, write token included.
        await call(`staged ${finalName}`, () => this.bucket.file(temp).copy(this.bucket.file(finalName)));
        settled = true;
        // The object is published; a temp that fails to delete is garbage, not a failed commit
        // (failing here would leave metadata disagreeing with the bytes now visible).
        await this.deleteAllQuietly([temp]);
      },
      discard: async () => {
        if (settled) return;
        settled = true;
        await this.deleteIgnoringMissing(temp);
      },
    };
  }

  /**
   * One compose step (a single source is a copy); returns the destination's size. `customMetadata`
   * is set on the destination (compose never inherits its sources' metadata, and a copy given a
   * destination resource takes only what it names).
   */
  private async runComposeStep(step: ComposeStep, what: string, customMetadata?: Record<string, string>): Promise<number> {
    const destination = this.bucket.file(step.destination);
    // Both calls answer with the new object's resource (a rewrite wraps it in `resource`).
    let resource: { size?: unknown } | undefined;
    if (step.sources.length === 1) {
      const options = customMetadata === undefined ? {} : { contentType: STAGED_CONTENT_TYPE, metadata: customMetadata };
      const [, response] = await call(what, () => this.bucket.file(step.sources[0] as string).copy(destination, options));
      resource = (response as { resource?: { size?: unknown } } | undefined)?.resource;
    } else {
      // The JSON API compose request itself: Bucket.combine cannot set custom metadata on the destination.
      const [response] = await call(what, () =>
        destination.request({
          method: 'POST',
          uri: '/compose',
          json: {
            destination: customMetadata === undefined ? {} : { contentType: STAGED_CONTENT_TYPE, metadata: customMetadata },
            sourceObjects: step.sources.map((name) => ({ name })),
          },
        }),
      );
      resource = response as { size?: unknown } | undefined;
    }
    const size = Number(resource?.size);
    if (Number.isSafeInteger(size) && size >= 0) return size;
    const [metadata] = await call(step.destination, () => destination.getMetadata());
    return Number(metadata.size);
  }

  /**
   * Opens a media download and waits for the response headers, so a missing object rejects
   * here (StorageNotFoundError) rather than later on the stream. Only the opening is retried.
   */
  private async openRead(name: string, what: string, range?: ByteRange): Promise<ReadResult> {
    if (range !== undefined && (!Number.isSafeInteger(range.start) || range.start < 0 || range.end < range.start)) {
      throw new RangeError(`range ${range.start}-${range.end} is outside ${what}`);
    }
    return call(what, () => this.openReadOnce(this.bucket.file(name), what, range));
  }

  private openReadOnce(file: File, what: string, range: ByteRange | undefined): Promise<ReadResult> {
    // The SDK's own check (CRC32C, pure JS) ran at ~36-80 MB/s here and would cap every full
    // read, so full reads are checked against the MD5 in x-goog-hash instead (native hashing);
    // composite objects have no MD5, and ranged reads cannot be checked.
    const download = file.createReadStream(range === undefined ? { validation: false } : { start: range.start, end: range.end });
    return new Promise<ReadResult>((resolve, reject) => {
      const fail = (e: unknown): void => {
        download.destroy();
        reject(e);
      };
      download.once('error', fail);
      download.once('response', (response: { statusCode?: number; headers?: unknown }) => {
        const status = response.statusCode ?? 0;
        if (status < 200 || status >= 300) return; // the SDK destroys the stream with the API error next
        download.off('error', fail);
        let size: number;
        try {
          size = bodySize(status, response.headers, range, what);
        } catch (e) {
          fail(e);
          return;
        }
        const md5 = range === undefined ? /(?:^|,)\s*md5=([^,\s]+)/.exec(headerOf(response.headers, 'x-goog-hash') ?? '')?.[1] : undefined;
        let stream: Readable = download;
        if (md5 !== undefined) {
          const check = new Md5Check(md5, what);
          // pipeline carries errors downstream and a consumer's destroy upstream; the consumer
          // sees the outcome on the check stream itself.
          pipelineStreams(download, check, () => {});
          stream = check;
        }
        // Errors after this point reach the consumer through the stream (pipeline/iteration); the
        // no-op listener only keeps one emitted before the consumer attaches from crashing the process.
        stream.on('error', () => {});
        resolve({ stream, size });
      });
      download.read(0); // the SDK sends the request on the first read
    });
  }

  private async deleteIgnoringMissing(name: string): Promise<void> {
    await call(name, () => this.bucket.file(name).delete({ ignoreNotFound: true }));
  }

  /** Best-effort cleanup of objects nobody will read (temps, intermediates). */
  private async deleteAllQuietly(names: readonly string[]): Promise<void> {
    await forEachLimited(names, CALL_CONCURRENCY, async (name) => {
      await this.deleteIgnoringMissing(name).catch(() => {});
    });
  }

  private async deletePrefix(prefix: string): Promise<void> {
    let pageToken: string | undefined;
    do {
      const [files, next] = await call(`objects under ${prefix}`, () =>
        this.bucket.getFiles({ prefix, maxResults: LIST_PAGE_SIZE, pageToken, autoPaginate: false }),
      );
      await forEachLimited(files, CALL_CONCURRENCY, (f) => this.deleteIgnoringMissing(f.name));
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken !== undefined);
  }
}
