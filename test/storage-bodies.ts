// Request bodies and read-backs for the storage gateway tests (aws-, gcp-, azure-storage and
// commit-recovery): bodies arrive in chunks, as from a socket, and reads are checked against the
// size the backend announced.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { ReadResult, StagedWrite } from '../src/storage/types.js';

/** A body delivered in several chunks, like a socket would. */
export function bodyOf(data: Buffer, chunkBytes = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkBytes) chunks.push(data.subarray(i, i + chunkBytes));
  return Readable.from(chunks, { objectMode: false });
}

/** Every byte of a read, which must be as many as ReadResult.size says. */
export async function readAll(result: ReadResult): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of result.stream) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  assert.equal(data.length, result.size, 'ReadResult.size matches the bytes streamed');
  return data;
}

/** Stages and commits, as the S3 layer does outside and inside its per-key critical section. */
export async function committed(staged: Promise<StagedWrite>): Promise<void> {
  await (await staged).commit();
}
