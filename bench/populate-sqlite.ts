// Populates a BleepStore data directory directly, before the server starts, instead of through
// 110,000 HTTP PUTs (several minutes on this machine). Each bucket and its first 0-byte object
// are written through the project's own SqliteMetadataStore (the rows a CreateBucket and a PUT
// write); every other key is a copy of that first row with only the key changed, inserted in one
// transaction (a store call per key costs a transaction each: ~10 s for 110,000 keys). No data
// files are made (creating 110,000 empty files took 30-90 s here): LIST reads only the metadata,
// and the listing workloads never GET these keys.
// Only for a BleepStore the bench starts itself: it writes the server's files behind its back.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import { aclFromHeaders, serializeAcl } from '../src/s3/acl.js';
import { defaultOwnerId } from '../src/s3/identity.js';

/** The MD5 of zero bytes, quoted as S3 ETags are. */
const EMPTY_ETAG = '"d41d8cd98f00b204e9800998ecf8427e"';

export interface DirectPopulation {
  bucket: string;
  keys: readonly string[];
}

export interface DirectPopulateOptions {
  dbPath: string;
  /** The local storage root: bucket directories are made there, as CreateBucket does. */
  objectsRoot: string;
  accessKey: string;
  region: string;
  buckets: readonly DirectPopulation[];
}

/** Returns the seconds it took. */
export async function populateDataDirectory(o: DirectPopulateOptions): Promise<number> {
  const started = performance.now();
  const store = new SqliteMetadataStore(o.dbPath);
  await store.init();
  try {
    const owner = { id: defaultOwnerId(o.accessKey), displayName: o.accessKey };
    const acl = serializeAcl(aclFromHeaders({}, owner));
    const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    for (const { bucket, keys } of o.buckets) {
      mkdirSync(join(o.objectsRoot, bucket), { recursive: true });
      await store.createBucket({ name: bucket, region: o.region, owner_id: owner.id, owner_display: owner.displayName, acl, created_at: now });
      const first = keys[0];
      if (first === undefined) continue;
      await store.putObject({
        bucket,
        key: first,
        size: 0,
        etag: EMPTY_ETAG,
        content_type: 'application/octet-stream',
        content_encoding: null,
        content_language: null,
        content_disposition: null,
        cache_control: null,
        expires: null,
        storage_class: 'STANDARD',
        acl,
        user_metadata: '{}',
        last_modified: now,
        delete_marker: false,
      });
    }
  } finally {
    await store.close();
  }
  copyFirstRows(o.dbPath, o.buckets);
  return (performance.now() - started) / 1000;
}

/** Inserts every key after the first as a copy of the first key's row (columns read from the schema). */
function copyFirstRows(dbPath: string, buckets: readonly DirectPopulation[]): void {
  const db = new Database(dbPath);
  try {
    const columns = (db.prepare('PRAGMA table_info(objects)').all() as { name: string }[]).map((c) => c.name);
    const quoted = columns.map((c) => `"${c}"`).join(', ');
    const source = columns.map((c) => (c === 'key' ? '?' : `"${c}"`)).join(', ');
    const copy = db.prepare(`INSERT INTO objects (${quoted}) SELECT ${source} FROM objects WHERE bucket = ? AND key = ?`);
    db.transaction(() => {
      for (const { bucket, keys } of buckets) {
        const first = keys[0];
        for (let i = 1; i < keys.length; i++) copy.run(keys[i], bucket, first);
      }
    })();
  } finally {
    db.close();
  }
}
