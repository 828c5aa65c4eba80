// Azure Blob gateway backend (spec/storage.md §5, §5.3): every BleepStore bucket lives in one
// container; an object is the block blob {prefix}{bucket}/{key} (names: azure-names.ts).
//
// Design, and why it departs from §5.3 (which stages parts as uncommitted blocks on the final
// blob and assembles them with one Put Block List):
//   Put Block List discards EVERY uncommitted block of the blob that it does not list. Staging
//   on the final blob therefore lets any commit to the key (a PutObject, another upload's
//   completion, a delete) destroy the staged bytes of everyone else writing that key, after their
//   body is consumed and can no longer be re-sent: two concurrent PUTs of one key would fail one
//   of them, and a PutObject during a multipart upload would destroy the upload's parts.
//   So nothing is ever staged only on the final blob:
//   - putObject: a body of at most one block (8 MiB) is held and written with one Put Blob at
//     commit() (atomic; one request for the common small object). A larger body streams as
//     8 MiB blocks into a private staging blob {prefix}.staging/{write id}, which is committed
//     (durable); its bytes are then copied server-side (Put Block From URL, ≤ 100 MiB per block)
//     onto the final blob as uncommitted blocks, outside the S3 layer's per-key critical section.
//     commit() is one Put Block List (atomic). If a concurrent commit dropped our uncommitted
//     blocks, they are copied again from the staging blob and committed (CopyPlan.commit).
//   - putPart: the part streams into its own data blob {prefix}.parts/{upload_id}/{n}.{write id};
//     commit() repoints {prefix}.parts/{upload_id}/{n} (an empty blob whose metadata names the
//     data blob; Put Blob is atomic, last commit wins) and deletes the data it superseded. Two
//     concurrent uploads of one part number never share blocks, so neither can break the other.
//   - assembleParts: the listed part blobs are copied server-side onto the final blob as
//     uncommitted blocks; commit() is one Put Block List (restaging from the parts if dropped).
//   - discard(): deletes the private blob; copies already staged on the final blob stay
//     uncommitted, invisible, until the next commit of that blob drops them (or 7 days pass).
// Crash recovery: each publish above also sets the write's id as metadata of the blob it publishes
// (object or pointer), and StagedWrite.recoveryRef names that blob and id (azure-recovery.ts).
// Cost: a large object's bytes are written twice (once streamed, once copied inside Azure).
// Limit: with 100 MiB copy blocks and Azure's 50,000 committed blocks per blob, one object can
// reach about 4.7 TiB (S3 allows 5 TiB).
import { Readable } from 'node:stream';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { forEachLimited, CopyPlan, DEFAULT_AZURE_TUNING, KeyedMutex, dropBlob, newWriteId, planCopy, streamIntoBlob, type AzureTuning, type StreamedBody } from './azure-blocks.js';
import { azureCall, connectAzure, isNotFound, azureStatus, type AzureConnection, type AzureSettings } from './azure-client.js';
import { AzureBlobNames } from './azure-names.js';
import { encodeRecoveryRef, publishedWriteId, stagedWriteCommitted, writeIdMetadata } from './azure-recovery.js';
import { StorageNotFoundError, type ByteRange, type ReadResult, type StagedWrite, type StorageBackend } from './types.js';

/** Staging blobs older than this belong to writes that died before commit (a commit takes seconds). */
const STALE_STAGING_MS = 24 * 60 * 60 * 1000;
/** Deletes (and part lookups) at once in listing sweeps and assembly. */
const LISTING_CONCURRENCY = 16;
/** Retries of a download (resuming where it broke off) when the connection drops mid-body. */
const DOWNLOAD_RESUMES = 4;

/**
 * Whether the container exists. A container- or blob-scoped SAS may not read container properties
 * (403), but can list: then one listing page answers the question.
 */
async function containerExists(container: ContainerClient): Promise<boolean> {
  try {
    await container.getProperties();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    if (azureStatus(e) !== 403) throw e;
  }
  try {
    await container.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** A staged write that may be settled once: commit or discard. */
function stagedWrite(size: number, recoveryRef: string, commit: () => Promise<void>, discard: () => Promise<void>): StagedWrite {
  let settled = false;
  return {
    size,
    recoveryRef,
    commit: async () => {
      if (settled) throw new Error('staged write already settled');
      settled = true;
      await commit();
    },
    discard: async () => {
      if (settled) return;
      settled = true;
      await discard();
    },
  };
}

/** Parses "bytes a-b/total" (Azure's Content-Range); undefined when absent or malformed. */
function totalOf(contentRange: string | undefined): number | undefined {
  const match = contentRange === undefined ? null : /\/(\d+)$/.exec(contentRange);
  return match ? Number(match[1]) : undefined;
}

export class AzureStorage implements StorageBackend {
  readonly stagesToFiles = false;
  private readonly names: AzureBlobNames;
  private readonly tuning: AzureTuning;
  private readonly commits = new KeyedMutex();
  private connection: AzureConnection | undefined;
  private sweep: Promise<void> | undefined;
  private closing = false;

  constructor(
    private readonly settings: AzureSettings,
    /** Block sizes and parallelism; tests shrink them to exercise multi-block paths cheaply. */
    tuning: Partial<AzureTuning> = {},
  ) {
    if (!settings.container) throw new Error('storage.azure.container is required for storage.backend azure');
    this.names = new AzureBlobNames(settings.prefix);
    this.tuning = { ...DEFAULT_AZURE_TUNING, ...tuning };
  }

  private get conn(): AzureConnection {
    if (!this.connection) throw new Error('AzureStorage used before init()');
    return this.connection;
  }

  private blob(name: string): BlockBlobClient {
    return this.conn.container.getBlockBlobClient(name);
  }

  async init(): Promise<void> {
    const connection = await connectAzure(this.settings);
    let exists: boolean;
    try {
      exists = await azureCall(() => containerExists(connection.container));
    } catch (e) {
      throw new Error(`cannot reach Azure ${connection.description}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!exists) throw new Error(`Azure ${connection.description} does not exist (storage.azure.container); create it first`);
    this.connection = connection;
    this.sweep = this.sweepStaleStaging();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.sweep;
  }

  async healthCheck(): Promise<void> {
    if (!(await containerExists(this.conn.container))) throw new Error(`Azure ${this.conn.description} does not exist`);
  }

  /** Removes staging blobs of writes that crashed before commit or discard (runs in the background). */
  private async sweepStaleStaging(): Promise<void> {
    try {
      const cutoff = Date.now() - STALE_STAGING_MS;
      const stale: string[] = [];
      for await (const item of this.conn.container.listBlobsFlat({ prefix: this.names.stagingArea() })) {
        if (this.closing) return;
        if (item.properties.lastModified.getTime() < cutoff) stale.push(item.name);
      }
      await forEachLimited(stale, LISTING_CONCURRENCY, (name) => dropBlob(this.blob(name), false));
    } catch {
      // Best effort: leftovers are private names, retried at the next start.
    }
  }

  async putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite> {
    const target = this.blob(this.names.object(bucket, key));
    const writeId = newWriteId();
    const staging = this.blob(this.names.staging(writeId));
    let streamed: StreamedBody;
    try {
      streamed = await streamIntoBlob(staging, body, writeId, this.tuning, true);
    } catch (e) {
      await dropBlob(staging, true);
      throw e;
    }
    const { held, size } = streamed;
    if (held !== undefined) {
      return stagedWrite(
        size,
        encodeRecoveryRef({ blob: target.name, writeId }),
        async () => {
          await azureCall(() => target.upload(held, held.length, { metadata: writeIdMetadata(writeId) }));
        },
        async () => {},
      );
    }
    const plan = new CopyPlan(this.conn, target, planCopy([{ blob: staging, size }], this.tuning.copyBlockBytes), this.tuning, writeIdMetadata(writeId));
    try {
      await plan.stage();
    } catch (e) {
      await dropBlob(staging, false);
      throw e;
    }
    return stagedWrite(
      size,
      encodeRecoveryRef({ blob: target.name, writeId, leftover: staging.name }),
      async () => {
        try {
          await this.commits.run(target.name, () => plan.commit());
        } finally {
          await dropBlob(staging, false);
        }
      },
      () => dropBlob(staging, false),
    );
  }

  async getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult> {
    return this.download(this.blob(this.names.object(bucket, key)), `${bucket}/${key}`, range);
  }

  /**
   * Sends the GET and waits for its headers before resolving, so a missing blob rejects with
   * StorageNotFoundError before the S3 layer answers; the body then streams.
   */
  private async download(blob: BlockBlobClient, what: string, range?: ByteRange): Promise<ReadResult> {
    if (range !== undefined && (!Number.isSafeInteger(range.start) || range.start < 0 || range.end < range.start)) {
      throw new RangeError(`range ${range.start}-${range.end} is not valid for ${what}`);
    }
    const offset = range?.start ?? 0;
    const count = range === undefined ? undefined : range.end - range.start + 1;
    let response;
    try {
      response = await azureCall(() => blob.download(offset, count, { maxRetryRequests: DOWNLOAD_RESUMES }));
    } catch (e) {
      if (isNotFound(e)) throw new StorageNotFoundError(what);
      if (azureStatus(e) === 416) throw new RangeError(`range starts beyond the end of ${what}`);
      throw e;
    }
    const stream = response.readableStreamBody;
    const size = response.contentLength ?? 0;
    // Azure answers 416 when the range starts at or past the end; Azurite answers 206 with no bytes.
    const total = totalOf(response.contentRange);
    if (range !== undefined && total !== undefined && range.start >= total) {
      if (stream instanceof Readable) stream.destroy();
      throw new RangeError(`range ${range.start}-${range.end} is outside ${what} (${total} bytes)`);
    }
    if (stream === undefined) return { stream: Readable.from([]), size: 0 };
    return { stream: stream instanceof Readable ? stream : Readable.from(stream), size };
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    const blob = this.blob(this.names.object(bucket, key));
    return azureCall(() => blob.exists());
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const blob = this.blob(this.names.object(bucket, key));
    await azureCall(() => blob.deleteIfExists({ deleteSnapshots: 'include' }));
  }

  async putPart(_bucket: string, _key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite> {
    const pointer = this.blob(this.names.partPointer(uploadId, partNumber));
    const writeId = newWriteId();
    const data = this.blob(this.names.partData(uploadId, partNumber, writeId));
    let size: number;
    try {
      ({ size } = await streamIntoBlob(data, body, writeId, this.tuning, false));
    } catch (e) {
      await dropBlob(data, true);
      throw e;
    }
    return stagedWrite(
      size,
      encodeRecoveryRef({ blob: pointer.name, writeId, leftover: data.name }),
      async () => {
        const previous = await publishedWriteId(pointer);
        await azureCall(() => pointer.upload('', 0, { metadata: writeIdMetadata(writeId) }));
        // A write id is never reused, so the one read before our Put Blob is no longer current.
        if (previous !== undefined && previous !== writeId) {
          await dropBlob(this.blob(this.names.partData(uploadId, partNumber, previous)), false);
        }
      },
      () => dropBlob(data, false),
    );
  }

  /** The data blob and size of a committed part; StorageNotFoundError when there is none. */
  private async partSource(uploadId: string, partNumber: number): Promise<{ blob: BlockBlobClient; size: number }> {
    const what = `part ${partNumber} of upload ${uploadId}`;
    // Twice: a concurrent overwrite may delete the data blob between reading the pointer and it.
    for (let attempt = 1; ; attempt++) {
      // The pointer's write id names the data blob of the part's last commit.
      const writeId = await publishedWriteId(this.blob(this.names.partPointer(uploadId, partNumber)));
      if (writeId === undefined) throw new StorageNotFoundError(what);
      const blob = this.blob(this.names.partData(uploadId, partNumber, writeId));
      try {
        const properties = await azureCall(() => blob.getProperties());
        return { blob, size: properties.contentLength ?? 0 };
      } catch (e) {
        if (!isNotFound(e)) throw e;
        if (attempt >= 2) throw new StorageNotFoundError(what);
      }
    }
  }

  async getPart(uploadId: string, partNumber: number): Promise<ReadResult> {
    const what = `part ${partNumber} of upload ${uploadId}`;
    for (let attempt = 1; ; attempt++) {
      const { blob } = await this.partSource(uploadId, partNumber);
      try {
        return await this.download(blob, what);
      } catch (e) {
        if (!(e instanceof StorageNotFoundError) || attempt >= 2) throw e;
      }
    }
  }

  async assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite> {
    const target = this.blob(this.names.object(bucket, key));
    const sources = new Array<{ blob: BlockBlobClient; size: number }>(partNumbers.length);
    await forEachLimited(partNumbers, LISTING_CONCURRENCY, async (n, i) => {
      sources[i] = await this.partSource(uploadId, n);
    });
    const writeId = newWriteId();
    const plan = new CopyPlan(this.conn, target, planCopy(sources, this.tuning.copyBlockBytes), this.tuning, writeIdMetadata(writeId));
    await plan.stage();
    const size = sources.reduce((sum, s) => sum + s.size, 0);
    // Parts stay until the caller deletes them, so a dropped copy can be staged again at commit.
    return stagedWrite(
      size,
      encodeRecoveryRef({ blob: target.name, writeId }),
      () => this.commits.run(target.name, () => plan.commit()),
      async () => {},
    );
  }

  /** Whether a staged write cut short by a crash published; drops its staged bytes if of no further use (azure-recovery.ts). */
  async stagedWriteCommitted(recoveryRef: string): Promise<boolean> {
    return stagedWriteCommitted(this.conn.container, this.names, recoveryRef);
  }

  async deleteParts(_bucket: string, _key: string, uploadId: string): Promise<void> {
    await this.deleteUploadParts(uploadId);
  }

  async deleteUploadParts(uploadId: string): Promise<void> {
    await this.deleteArea(this.names.partsOf(uploadId));
  }

  async createBucket(): Promise<void> {
    // All buckets share the container; a bucket has no blob of its own.
  }

  /** The S3 layer only deletes empty buckets; this removes whatever bytes are still stored for it. */
  async deleteBucket(bucket: string): Promise<void> {
    await this.deleteArea(this.names.bucketArea(bucket));
    await this.deleteArea(this.names.longKeyArea(bucket));
  }

  /** Deletes every blob whose name starts with `prefix`, a listing page at a time. Idempotent, so retried whole. */
  private async deleteArea(prefix: string): Promise<void> {
    await azureCall(async () => {
      for await (const page of this.conn.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 1000 })) {
        const names = page.segment.blobItems.map((item) => item.name);
        await forEachLimited(names, LISTING_CONCURRENCY, (name) => this.blob(name).deleteIfExists({ deleteSnapshots: 'include' }));
      }
    });
  }
}
