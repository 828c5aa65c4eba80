// bleepstore-meta export / import (spec/serialization.md), run as the real executable against
// real SQLite files created by the server's own metadata engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { compareCodePoints, stringifyCompactSorted, stringifySorted } from '../src/meta/canonical-json.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import { sharedFixture } from './shared-fixtures.js';

const FIXTURE = sharedFixture('metadata-export-reference.json');
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/meta/cli.js');
const TABLES = ['buckets', 'objects', 'multipart_uploads', 'multipart_parts', 'credentials'] as const;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function meta(args: string[], options: { input?: string; cwd?: string } = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { input: options.input, cwd: options.cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Doc = Record<string, unknown> & { bleepstore_export: Record<string, unknown> };

let dir: string;
let n = 0;

/** A fresh database with the schema, as the server creates it. */
async function freshDb(): Promise<string> {
  const path = join(dir, `db-${n++}.db`);
  const store = new SqliteMetadataStore(path);
  await store.init();
  await store.close();
  return path;
}

function exportDoc(db: string, extra: string[] = []): Doc {
  const r = meta(['export', '--db', db, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Doc;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bleepstore-meta-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('canonical JSON', () => {
  it('sorts keys by code point at every level, integer-like keys included', () => {
    assert.equal(stringifySorted({ b: 1, a: { '9': 1, '10': 2, z: [] }, c: {} }), '{\n  "a": {\n    "10": 2,\n    "9": 1,\n    "z": []\n  },\n  "b": 1,\n  "c": {}\n}');
    assert.equal(stringifyCompactSorted({ b: [1, { d: 1, c: 2 }], a: 'é<&>' }), '{"a":"é<&>","b":[1,{"c":2,"d":1}]}');
    assert.ok(compareCodePoints('\u{ffff}', '\u{10000}') < 0, 'code points, not UTF-16 units');
    assert.ok('\u{ffff}' > '\u{10000}', 'JS string order differs here');
  });
});

describe('bleepstore-meta round trip (Level 1)', () => {
  it('import the reference fixture, export with credentials: every table array and the layout match', async () => {
    const db = await freshDb();
    const imp = meta(['import', '--db', db, '--input', FIXTURE]);
    assert.equal(imp.status, 0, imp.stderr);
    assert.equal(imp.stderr, '  buckets: 2 imported\n  objects: 3 imported\n  multipart_uploads: 1 imported\n  multipart_parts: 2 imported\n  credentials: 3 imported\n');

    const out = join(dir, 'out.json');
    const exp = meta(['export', '--db', db, '--include-credentials', '--output', out]);
    assert.equal(exp.status, 0, exp.stderr);
    assert.equal(exp.stderr, `Exported to ${out}\n`);
    const text = readFileSync(out, 'utf8');
    const fixtureText = readFileSync(FIXTURE, 'utf8');
    const exported = JSON.parse(text) as Doc;
    const fixture = JSON.parse(fixtureText) as Doc;
    for (const table of TABLES) assert.deepEqual(exported[table], fixture[table], table);
    assert.equal(exported.bleepstore_export.version, 1);
    assert.equal(exported.bleepstore_export.schema_version, 1);
    assert.match(String(exported.bleepstore_export.source), /^typescript\/\d+\.\d+\.\d+$/);
    assert.match(String(exported.bleepstore_export.exported_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Byte for byte the fixture, once the two envelope values that must differ are swapped in.
    const expected = fixtureText
      .replace('"exported_at": "2026-02-25T00:00:00.000Z"', `"exported_at": "${String(exported.bleepstore_export.exported_at)}"`)
      .replace('"source": "python/0.1.0"', `"source": "${String(exported.bleepstore_export.source)}"`);
    assert.equal(text, expected);
  });

  it('stores acl/user_metadata as compact sorted JSON and booleans as 0/1 (Level 2 safe form)', async () => {
    const db = await freshDb();
    assert.equal(meta(['import', '--db', db, '--input', FIXTURE]).status, 0);
    const sqlite = new Database(db, { readonly: true });
    try {
      const alpha = sqlite.prepare("SELECT acl FROM buckets WHERE name = 'alpha-bucket'").get() as { acl: string };
      assert.equal(alpha.acl, '{"grants":[],"owner":{"id":"bleepstore"}}');
      const creds = sqlite.prepare('SELECT access_key_id, active FROM credentials ORDER BY access_key_id').all() as { active: number }[];
      assert.deepEqual(creds.map((c) => c.active), [1, 0, 1]);
      const marker = sqlite.prepare('SELECT COUNT(*) AS n FROM objects WHERE delete_marker = 1').get() as { n: number };
      assert.equal(marker.n, 1);
    } finally {
      sqlite.close();
    }
  });

  it('exports the server-written database: NULLs stay null, empty tables are [], stdout ends with a newline', async () => {
    const db = await freshDb();
    const r = meta(['export', '--db', db]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.endsWith('}\n'));
    const doc = JSON.parse(r.stdout) as Doc;
    for (const table of TABLES) assert.deepEqual(doc[table], [], table);
    assert.deepEqual(Object.keys(doc), ['bleepstore_export', 'buckets', 'credentials', 'multipart_parts', 'multipart_uploads', 'objects']);
    const imported = await freshDb();
    assert.equal(meta(['import', '--db', imported, '--input', FIXTURE]).status, 0);
    const objects = exportDoc(imported).objects as Record<string, unknown>[];
    const plain = objects.find((o) => o.content_encoding === null);
    assert.ok(plain, 'a NULL column is exported as null, never omitted');
    assert.ok('expires' in plain);
  });
});

describe('bleepstore-meta options', () => {
  it('redacts secrets unless --include-credentials; importing redacted credentials skips them with a warning', async () => {
    const db = await freshDb();
    assert.equal(meta(['import', '--db', db, '--input', FIXTURE]).status, 0);
    const redacted = exportDoc(db);
    const creds = redacted.credentials as { secret_key: string }[];
    assert.deepEqual(creds.map((c) => c.secret_key), ['REDACTED', 'REDACTED', 'REDACTED']);
    const target = await freshDb();
    const r = meta(['import', '--db', target], { input: JSON.stringify(redacted) });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^ {2}credentials: 0 imported, 3 skipped$/m);
    assert.match(r.stderr, /^ {2}WARNING: Skipped credential 'bleepstore': REDACTED secret_key$/m);
  });

  it('--tables exports a subset (absent keys, not []), spaces trimmed; unknown names fail', async () => {
    const db = await freshDb();
    assert.equal(meta(['import', '--db', db, '--input', FIXTURE]).status, 0);
    const doc = exportDoc(db, ['--tables', 'buckets, credentials']);
    assert.deepEqual(Object.keys(doc), ['bleepstore_export', 'buckets', 'credentials']);
    const bad = meta(['export', '--db', db, '--tables', 'buckets,nope,worse']);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'Error: invalid table names: nope, worse\n');
  });

  it('merge keeps existing rows and is idempotent; replace empties the imported tables first', async () => {
    const db = await freshDb();
    assert.equal(meta(['import', '--db', db, '--input', FIXTURE]).status, 0);
    const sqlite = new Database(db);
    sqlite.prepare("UPDATE buckets SET region = 'ap-south-1' WHERE name = 'alpha-bucket'").run();
    sqlite.prepare("INSERT INTO buckets (name, region, owner_id, owner_display, acl, created_at) VALUES ('extra-bucket', 'us-east-1', 'x', '', '{}', '2026-01-01T00:00:00.000Z')").run();
    sqlite.close();

    const merge = meta(['import', '--db', db, '--input', FIXTURE, '--merge']);
    assert.equal(merge.status, 0, merge.stderr);
    assert.match(merge.stderr, /^ {2}buckets: 0 imported, 2 skipped$/m);
    let buckets = exportDoc(db).buckets as { name: string; region: string }[];
    assert.deepEqual(buckets.map((b) => `${b.name}:${b.region}`), ['alpha-bucket:ap-south-1', 'beta-bucket:eu-west-1', 'extra-bucket:us-east-1']);

    const replace = meta(['import', '--db', db, '--input', FIXTURE, '--replace']);
    assert.equal(replace.status, 0, replace.stderr);
    assert.match(replace.stderr, /^ {2}buckets: 2 imported$/m);
    buckets = exportDoc(db).buckets as { name: string; region: string }[];
    assert.deepEqual(buckets.map((b) => `${b.name}:${b.region}`), ['alpha-bucket:us-east-1', 'beta-bucket:eu-west-1']);
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Doc;
    const again = exportDoc(db, ['--include-credentials']);
    for (const table of TABLES) assert.deepEqual(again[table], fixture[table], table);
  });

  it('rows failing a constraint are skipped with a warning; the rest is imported', async () => {
    const db = await freshDb();
    const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Doc;
    const objects = doc.objects as Record<string, unknown>[];
    objects.push({ ...objects[0], bucket: 'no-such-bucket', key: 'orphan' });
    const r = meta(['import', '--db', db], { input: JSON.stringify(doc) });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^ {2}objects: 3 imported, 1 skipped$/m);
    assert.match(r.stderr, /^ {2}WARNING: Skipped objects row: FOREIGN KEY constraint failed$/m);
  });

  it('reads metadata.sqlite.path from --config; --db overrides it', async () => {
    const db = await freshDb();
    const config = join(dir, 'cfg.yaml');
    writeFileSync(config, `metadata: {engine: "memory", sqlite: {path: "${db}"}}\n`);
    assert.equal(meta(['import', '--config', config, '--input', FIXTURE]).status, 0);
    assert.equal((exportDoc(db).buckets as unknown[]).length, 2, 'imported into the configured path');
    const viaConfig = meta(['export', '--config', config, '--tables', 'buckets']);
    assert.equal(viaConfig.status, 0, viaConfig.stderr);
    assert.equal((JSON.parse(viaConfig.stdout) as Doc & { buckets: unknown[] }).buckets.length, 2);
  });

  it('fails with exit 1 and "Error ..." on bad input', async () => {
    const db = await freshDb();
    const cases: [string[], string | undefined, RegExp][] = [
      [['import', '--db', db], '{"bleepstore_export":{"version":2}}', /^Error: Unsupported export version: 2\n$/],
      [['import', '--db', db], 'not json', /^Error: input is not valid JSON/],
      [['import', '--db', db, '--merge', '--replace', '--input', FIXTURE], undefined, /^Error: --merge and --replace are mutually exclusive\n$/],
      [['export', '--db', db, '--format', 'yaml'], undefined, /^Error: unsupported format: yaml/],
      [['export', '--db', join(dir, 'missing.db')], undefined, /^Error: /],
      [['export', '--db', db, '--bogus'], undefined, /^Error: /],
      [['frobnicate'], undefined, /^Error: expected a command/],
    ];
    for (const [args, input, pattern] of cases) {
      const r = meta(args, { input });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, pattern, args.join(' '));
    }
    assert.ok(!existsSync(join(dir, 'missing.db')), 'export never creates a database');
  });

  it('accepts --flag=value', async () => {
    const db = await freshDb();
    assert.equal(meta(['import', `--db=${db}`, `--input=${FIXTURE}`]).status, 0);
    const r = meta(['export', `--db=${db}`, '--tables=objects']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(((JSON.parse(r.stdout) as Doc).objects as unknown[]).length, 3);
  });
});
