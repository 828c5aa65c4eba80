// The memory backend's snapshot file (spec/storage.md §3): an SQLite database with
// object_snapshots / part_snapshots. Written to a temp file beside it, then renamed over it, so a
// crash mid-write leaves the previous snapshot intact.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import Database from 'better-sqlite3';

/** spec/storage.md §3, exact text. */
export const SNAPSHOT_SCHEMA = `CREATE TABLE object_snapshots (bucket TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (bucket, key));
CREATE TABLE part_snapshots (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, data BLOB NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (upload_id, part_number));`;

export interface SnapshotContents {
  objects: { bucket: string; key: string; data: Buffer; etag: string }[];
  parts: { uploadId: string; partNumber: number; data: Buffer; etag: string }[];
}

/** The temp file: same directory, extension replaced by `.snap.tmp` (memory.snap → memory.snap.tmp). */
export function snapshotTempPath(path: string): string {
  const name = basename(path);
  return join(dirname(path), `${name.slice(0, name.length - extname(name).length)}.snap.tmp`);
}

function blob(v: unknown, what: string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v === null) return Buffer.alloc(0); // some drivers hand back NULL for a zero-length blob
  throw new Error(`${what}: data is not a BLOB`);
}

/** undefined when there is no snapshot yet; throws when the file cannot be read as a snapshot. */
export function loadSnapshot(path: string): SnapshotContents | undefined {
  if (!existsSync(path)) return undefined;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    type ObjectRow = { bucket: string; key: string; data: unknown; etag: string };
    type PartRow = { upload_id: string; part_number: number; data: unknown; etag: string };
    const objects = (db.prepare('SELECT bucket, key, data, etag FROM object_snapshots').all() as ObjectRow[]).map((r) => ({
      bucket: r.bucket,
      key: r.key,
      data: blob(r.data, `object ${r.bucket}/${r.key}`),
      etag: r.etag,
    }));
    const parts = (db.prepare('SELECT upload_id, part_number, data, etag FROM part_snapshots').all() as PartRow[]).map((r) => ({
      uploadId: r.upload_id,
      partNumber: r.part_number,
      data: blob(r.data, `part ${r.part_number} of ${r.upload_id}`),
      etag: r.etag,
    }));
    return { objects, parts };
  } finally {
    db.close();
  }
}

/** Writes contents to the temp file in one transaction, then atomically renames it over path. */
export function writeSnapshot(path: string, contents: SnapshotContents): void {
  const dir = dirname(path);
  const temp = snapshotTempPath(path);
  mkdirSync(dir, { recursive: true });
  // A leftover from a crashed write would already hold tables (and maybe a hot journal).
  rmSync(temp, { force: true });
  rmSync(`${temp}-journal`, { force: true });
  try {
    const db = new Database(temp);
    try {
      db.exec(SNAPSHOT_SCHEMA);
      const putObject = db.prepare('INSERT INTO object_snapshots (bucket, key, data, etag) VALUES (?,?,?,?)');
      const putPart = db.prepare('INSERT INTO part_snapshots (upload_id, part_number, data, etag) VALUES (?,?,?,?)');
      db.transaction(() => {
        for (const o of contents.objects) putObject.run(o.bucket, o.key, o.data, o.etag);
        for (const p of contents.parts) putPart.run(p.uploadId, p.partNumber, p.data, p.etag);
      })();
    } finally {
      db.close();
    }
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  // Make the rename itself durable.
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
