// The crash-only publish protocol (s3/publish.ts): a kill -9 between "rename into place" and
// "metadata commit" is repaired by the next start, which rolls the commit intent forward when the
// rename happened and drops it when it did not. Simulated here by stopping after each step.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { recoverCommitIntents } from '../src/infra/recovery.js';
import { createLogger } from '../src/log.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import type { ObjectRecord } from '../src/metadata/types.js';
import { LocalStorage } from '../src/storage/local.js';

function record(key: string, size: number, etag: string): ObjectRecord {
  return {
    bucket: 'b', key, size, etag, content_type: 'text/plain', content_encoding: null, content_language: null,
    content_disposition: null, cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}',
    user_metadata: '{}', last_modified: '2026-01-01T00:00:00.000Z', delete_marker: false, checksum: null,
  };
}

describe('commit intent recovery', () => {
  let dir: string;
  let metadata: SqliteMetadataStore;
  let storage: LocalStorage;
  const log = createLogger('error', 'text');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-recovery-'));
    metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
    await metadata.init();
    storage = new LocalStorage(join(dir, 'objects'));
    await storage.init();
    await metadata.createBucket({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: 'o', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    await storage.createBucket('b');
    const v1 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version one')]));
    await v1.commit();
    await metadata.putObject(record('k', 11, '"v1"'));
  });
  after(async () => {
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('rolls forward a commit whose rename happened before the crash', async () => {
    const v2 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version two!')]));
    await metadata.recordCommitIntent({ id: 'i2', staged_path: v2.path ?? '', action: { kind: 'object', object: record('k', 12, '"v2"') }, created_at: '2026-01-01T00:00:01.000Z' });
    await v2.commit(); // ... and the process dies before the metadata commit
    assert.equal((await metadata.getObject('b', 'k'))?.etag, '"v1"', 'the torn state the protocol repairs');

    assert.deepEqual(await recoverCommitIntents(metadata, log), { rolledForward: 1, dropped: 0 });
    const row = await metadata.getObject('b', 'k');
    assert.equal(row?.etag, '"v2"');
    assert.equal(row?.size, 12);
    assert.equal(await readFile(join(dir, 'objects', 'b', 'k'), 'utf8'), 'version two!');
    assert.deepEqual(await metadata.listCommitIntents(), []);
  });

  it('drops a commit whose staged file was never renamed, keeping the previous version', async () => {
    const v3 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version three')]));
    await metadata.recordCommitIntent({ id: 'i3', staged_path: v3.path ?? '', action: { kind: 'object', object: record('k', 13, '"v3"') }, created_at: '2026-01-01T00:00:02.000Z' });
    // ... the process dies before the rename.
    assert.deepEqual(await recoverCommitIntents(metadata, log), { rolledForward: 0, dropped: 1 });
    assert.equal((await metadata.getObject('b', 'k'))?.etag, '"v2"');
    assert.equal(await readFile(join(dir, 'objects', 'b', 'k'), 'utf8'), 'version two!');
    assert.deepEqual(await metadata.listCommitIntents(), []);
    await storage.init(); // the rest of startup: the unrenamed temp file goes
    assert.equal(existsSync(v3.path ?? ''), false);
  });
});
