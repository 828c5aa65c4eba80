// Maps a storage backend failure to what the client sees. S3 errors raised by the ingest
// pipeline (digest mismatch, short body) and client aborts pass through unchanged.
// (StorageNotFoundError and I/O errors become InternalError in the request pipeline.)
import { ClientAbortError } from '../http/types.js';
import { S3Error } from './errors.js';

export function storageFailure(e: unknown): Error {
  if (e instanceof S3Error || e instanceof ClientAbortError) return e;
  if (e instanceof Error && e.name === 'KeyPathTooLongError') return new S3Error('KeyTooLongError', 'A segment of the key is too long for this storage backend.');
  if (e instanceof Error && e.name === 'StorageCapacityError') return new S3Error('InternalError', 'Storage capacity exceeded.');
  if (e instanceof Error && e.name === 'StorageEntityTooLargeError') return new S3Error('EntityTooLarge', e.message);
  // A cloud gateway's provider refused BleepStore's own credentials (storage.md §1: 403 → AccessDenied).
  if (e instanceof Error && e.name === 'AwsAccessDeniedError') return new S3Error('AccessDenied', 'The storage backend denied access.');
  // Anything else is unexpected: the request pipeline logs it and answers InternalError.
  return e instanceof Error ? e : new Error(String(e));
}
