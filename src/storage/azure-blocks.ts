// Block-level building blocks of the Azure gateway: streaming a body into blocks with bounded
// memory, copying byte ranges of our own blobs onto another blob server-side (Put Block From URL),
// and committing such copies atomically with Put Block List.
import { randomUUID } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import { azureCall, azureErrorCode, isNotFound, type AzureConnection } from './azure-client.js';
import { ChunkBuffer } from './chunk-buffer.js';
import { StorageNotFoundError } from './types.js';

const MiB = 1024 * 1024;

export interface AzureTuning {
  /** Size of each block staged from a body; a body no larger is sent with one Put Blob instead. */
  blockBytes: number;
  /** Blocks uploading at once per body: memory per body is bounded by (this + 1) × blockBytes. */
  blocksInFlight: number;
  /** Largest range copied with one Put Block From URL (100 MiB is accepted by every API version). */
  copyBlockBytes: number;
  /** Put Block From URL calls at once per published blob. */
  copiesInFlight: number;
}

export const DEFAULT_AZURE_TUNING: AzureTuning = { blockBytes: 8 * MiB, blocksInFlight: 3, copyBlockBytes: 100 * MiB, copiesInFlight: 4 };

/** A fresh id for one staged write: 32 lowercase hex digits. */
export function newWriteId(): string {
  return randomUUID().replaceAll('-', '');
}

/**
 * Block id n of a write. Azure requires every block id of one blob to have the same length
 * (uncommitted ones, at least), and different writes stage blocks on the same final blob, so
 * every id this gateway makes has one shape: base64("{32 hex write id}-{6-digit index}"), 52
 * characters. Azure allows at most 50,000 committed blocks per blob, well inside 6 digits.
 */
export function blockId(writeId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 999_999) throw new RangeError(`block index ${index} out of range`);
  return Buffer.from(`${writeId}-${String(index).padStart(6, '0')}`, 'utf8').toString('base64');
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('request body yielded a chunk that is not bytes');
}

/** Runs at most `limit` tasks at once; the first failure wins, after every started task settles. */
class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Waits for a free slot, then starts `task`; throws the first failure seen so far. */
  async add(task: () => Promise<unknown>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const settled: Promise<void> = task().then(
      () => {
        this.running.delete(settled);
      },
      (error: unknown) => {
        this.failure ??= { error };
        this.running.delete(settled);
      },
    );
    this.running.add(settled);
  }

  /** Waits for every started task; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all([...this.running]);
    this.throwIfFailed();
  }

  /** Waits for every started task and ignores their failures (a failure path already has its error). */
  async settle(): Promise<void> {
    await Promise.all([...this.running]);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

/** Runs `fn` over `items` with at most `limit` calls at once. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  const pool = new TaskPool(limit);
  try {
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const index = i;
      await pool.add(() => fn(item, index));
    }
  } catch (e) {
    await pool.settle();
    throw e;
  }
  await pool.drain();
}

export type StreamedBody = { size: number; held: Buffer } | { size: number; held?: undefined };

/**
 * Streams `body` into `blob` as blocks of tuning.blockBytes (at most blocksInFlight uploading) and
 * commits them. A body of at most one block is not written in pieces: with `holdSmall` it is
 * returned as `held` (the caller sends it later with one Put Blob), otherwise it is written now with
 * one Put Blob. If the body or an upload fails, the error is rethrown after in-flight uploads
 * settle; the blob then holds at most uncommitted blocks, which the caller drops (dropBlob).
 */
export async function streamIntoBlob(blob: BlockBlobClient, body: AsyncIterable<unknown>, writeId: string, tuning: AzureTuning, holdSmall: boolean): Promise<StreamedBody> {
  const buffer = new ChunkBuffer();
  const pool = new TaskPool(tuning.blocksInFlight);
  const ids: string[] = [];
  let size = 0;
  const stageNext = async (data: Buffer): Promise<void> => {
    const id = blockId(writeId, ids.length);
    ids.push(id);
    await pool.add(() => azureCall(() => blob.stageBlock(id, data, data.length)));
  };
  try {
    for await (const chunk of body) {
      const bytes = toBuffer(chunk);
      buffer.push(bytes);
      size += bytes.length;
      // Strictly more than one block: a body of exactly one block still counts as small.
      while (buffer.size > tuning.blockBytes) await stageNext(buffer.take(tuning.blockBytes));
    }
    if (ids.length === 0) {
      const whole = buffer.take(buffer.size);
      if (holdSmall) return { size, held: whole };
      await azureCall(() => blob.upload(whole, whole.length));
      return { size };
    }
    if (buffer.size > 0) await stageNext(buffer.take(buffer.size));
    await pool.drain();
  } catch (e) {
    await pool.settle();
    throw e;
  }
  await azureCall(() => blob.commitBlockList(ids));
  return { size };
}

/**
 * Deletes a private blob (staging or part data). Never throws: it runs on cleanup paths. A blob
 * holding only uncommitted blocks cannot be deleted (Azure answers 404 and keeps the blocks until
 * they expire after 7 days), so those are first committed as an empty blob, then deleted.
 */
export async function dropBlob(blob: BlockBlobClient, uncommittedToo: boolean): Promise<void> {
  try {
    if (uncommittedToo && !(await blob.exists())) await blob.commitBlockList([]);
    await azureCall(() => blob.deleteIfExists({ deleteSnapshots: 'include' }));
  } catch {
    // Best effort: a leftover private blob is never visible as an object (init sweeps stale staging).
  }
}

/** A byte range of one of our blobs, to be copied as one block. */
export interface SourceRange {
  source: BlockBlobClient;
  offset: number;
  count: number;
}

/** Splits whole sources (in order) into ranges of at most copyBlockBytes; empty sources add nothing. */
export function planCopy(sources: ReadonlyArray<{ blob: BlockBlobClient; size: number }>, copyBlockBytes: number): SourceRange[] {
  const ranges: SourceRange[] = [];
  for (const { blob, size } of sources) {
    for (let offset = 0; offset < size; offset += copyBlockBytes) {
      ranges.push({ source: blob, offset, count: Math.min(copyBlockBytes, size - offset) });
    }
  }
  return ranges;
}

/**
 * The blocks of `target` a publish commits: staged server-side from `ranges` (Put Block From
 * URL, no bytes through this process), committed in order with one Put Block List, which also
 * replaces the target's metadata with `metadata`.
 */
export class CopyPlan {
  readonly ids: string[];

  constructor(
    private readonly connection: AzureConnection,
    readonly target: BlockBlobClient,
    private readonly ranges: readonly SourceRange[],
    private readonly tuning: AzureTuning,
    /** Set on the target by the commit (the write id that recovery looks for, azure-recovery.ts). */
    private readonly metadata?: Record<string, string>,
  ) {
    const writeId = newWriteId();
    this.ids = ranges.map((_, i) => blockId(writeId, i));
  }

  /** Stages every range as an uncommitted block of the target. A vanished source → StorageNotFoundError. */
  async stage(): Promise<void> {
    await forEachLimited(this.ranges, this.tuning.copiesInFlight, async (range, i) => {
      try {
        await azureCall(async () => {
          const source = await this.connection.copySource(range.source);
          await this.target.stageBlockFromURL(this.ids[i]!, source.url, range.offset, range.count, { sourceAuthorization: source.authorization });
        });
      } catch (e) {
        // CannotVerifyCopySource 404: the source blob is gone (a part overwritten or deleted meanwhile).
        if (isNotFound(e)) throw new StorageNotFoundError(`copy source ${range.source.name}`);
        throw e;
      }
    });
  }

  /**
   * Commits the staged blocks as the target's content, atomically. Put Block List discards every
   * uncommitted block of the blob that is not listed, so a commit (or Put Blob, or delete) of
   * another writer on the same blob between stage() and here drops ours: Azure answers
   * InvalidBlockList, and the blocks are staged again from the sources, which are still there.
   */
  async commit(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await azureCall(() => this.target.commitBlockList(this.ids, { metadata: this.metadata }));
        return;
      } catch (e) {
        if (azureErrorCode(e) !== 'InvalidBlockList' || attempt >= MAX_COMMIT_ATTEMPTS) throw e;
      }
      await this.stage();
    }
  }
}

/** Restage-and-commit rounds before giving up on a blob other writers keep committing to. */
const MAX_COMMIT_ATTEMPTS = 5;

/**
 * Serialises commits to one blob within this process, so that concurrent publishers of one key do
 * not keep discarding each other's restaged blocks (across processes the restage loop copes).
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
