// Listing property test (s3-api.md §5): random keys (unicode incl. astral and U+E000..U+FFFF,
// '%', '_', '+', spaces, delimiters inside keys, keys equal to prefixes) on a real in-process
// server, then random prefix / delimiter / max-keys / marker / start-after / encoding-type
// combinations, V1 and V2, every page compared against a tiny reference model that sorts by
// UTF-8 bytes (Buffer.compare). The seed is printed; LISTING_SEED=<n> replays a run.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, CreateBucketCommand, PutObjectCommand, ListObjectsCommand, ListObjectsV2Command, DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { createServer, defaultConfig, type BleepStoreServer } from '../src/index.js';
import type { HttpEngineName, MetadataEngineName } from '../src/config.js';
import { child, childrenNamed, parseXml, type XmlElement } from '../src/xml/parser.js';
import { signedRequest, errorCode, showResponse, type RawResponse } from '../e2e/raw-http.js';
import { ACCESS_KEY, SECRET_KEY, REGION } from '../e2e/harness.js';

const BUCKET = 'listing-prop';
const KEY_COUNT = 400;
const COMBOS_PER_SERVER = 220;
/** Pages followed per combination; with max-keys=1 a full walk would be hundreds of requests. */
const PAGE_CAP = 25;
const MAX_KEYS_CHOICES = [0, 1, 2, 3, 7, 1000, 1001] as const;

const SEED = process.env.LISTING_SEED !== undefined ? Number(process.env.LISTING_SEED) : Date.now() % 2 ** 31;

/** mulberry32: small, fast, reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

// Pieces keys are built from. U+FFFE/U+FFFF and C0 controls cannot travel in XML 1.0 at all,
// so they are covered by the encoding-type=url case below, not here.
const PIECES = [
  'a', 'b', 'c', 'x', 'Z', '0', '9', 'ab', 'a/', 'b-',
  '/', '/', '/', '-', '-', '//', '--', '.', '~', '*', '!', '&', '<', '>', "'", '"', '=', '?', '#', ':', ';', ',', '@', '$',
  '%', '%', '%2F', '%20', '%%', '_', '_', '__', '+', '+', ' ', ' ', '\t',
  'é', 'ß', 'ü', '日本', 'Ω', '\u00a0', '\u007f',
  '\ue000', '\uf8ff', '\ufffd', '\uff5e', '\ufb01', '\ud7ff',
  '😀', '𝄞', '\u{10000}', '\u{10fffd}', '\u{1f600}x',
];
const DELIMITERS = ['/', '/', '/', '-', '%', '_', '+', ' ', 'é', '😀', '\ue000', '/-', '--', 'a/', '//', 'b', '\ufffd', '%2F'];

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const byUtf8 = (a: string, b: string): number => Buffer.compare(utf8(a), utf8(b));

function randomKey(rng: Random): string {
  let key = '';
  const pieces = 1 + rng.int(9);
  for (let i = 0; i < pieces; i++) key += rng.pick(PIECES);
  return key;
}

/** A cut of `s` at a code point boundary (never splits a surrogate pair). */
function cut(rng: Random, s: string): string {
  const cps = Array.from(s);
  return cps.slice(0, rng.int(cps.length + 1)).join('');
}

function makeKeys(rng: Random): string[] {
  const keys = new Set<string>();
  while (keys.size < KEY_COUNT) {
    const existing = [...keys];
    if (existing.length > 0 && rng.chance(0.15)) {
      // A key that is also a prefix (often a common prefix) of another key.
      const base = rng.pick(existing);
      const d = rng.pick(DELIMITERS);
      const at = base.indexOf(d);
      keys.add(at >= 0 ? base.slice(0, at + d.length) : cut(rng, base) || base);
    } else if (existing.length > 0 && rng.chance(0.2)) {
      keys.add(cut(rng, rng.pick(existing)) + randomKey(rng));
    } else {
      keys.add(randomKey(rng));
    }
  }
  return [...keys].sort(byUtf8);
}

/** Body bytes of a key: its UTF-8 repeated to a key-dependent size, so Size and ETag are checkable. */
function bodyOf(key: string): Buffer {
  const unit = utf8(key);
  return Buffer.alloc((unit.length * 7) % 97, unit);
}
function etagOf(key: string): string {
  return `"${createHash('md5').update(bodyOf(key)).digest('hex')}"`;
}

// ---- the reference model (§5.2, written as plainly as possible) ----

interface Entry {
  kind: 'key' | 'prefix';
  value: string;
}
interface ModelPage {
  entries: Entry[];
  isTruncated: boolean;
}

function entriesOf(keys: readonly string[], prefix: string, delimiter: string): Entry[] {
  const out: Entry[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const at = delimiter === '' ? -1 : rest.indexOf(delimiter);
    if (at < 0) {
      out.push({ kind: 'key', value: key });
    } else {
      const cp = prefix + rest.slice(0, at + delimiter.length);
      if (!seen.has(cp)) out.push({ kind: 'prefix', value: cp });
      seen.add(cp);
    }
  }
  return out.sort((a, b) => byUtf8(a.value, b.value));
}

function modelPage(keys: readonly string[], prefix: string, delimiter: string, marker: string, maxKeys: number): ModelPage {
  const after = entriesOf(keys, prefix, delimiter).filter((e) => marker === '' || byUtf8(e.value, marker) > 0);
  const take = Math.min(maxKeys, 1000);
  return { entries: after.slice(0, take), isTruncated: take > 0 && after.length > take };
}

// ---- reading a page from the server ----

interface ServerPage {
  entries: Entry[];
  isTruncated: boolean;
  /** V2 token / V1 NextMarker as sent (undefined when absent). */
  next: string | undefined;
  keyCount: number | undefined;
  echoed: Record<string, string | undefined>;
  contents: Array<{ key: string; size: number; etag: string }>;
}

/** encoding-type=url decoding (§5.5): '+' is a space, %XX are UTF-8 bytes. */
function urlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function text(el: XmlElement, name: string): string | undefined {
  return child(el, name)?.text; // untrimmed: keys may start or end with spaces
}

function parseListing(res: RawResponse, encoded: boolean, what: string): ServerPage {
  assert.equal(res.status, 200, `${what}: ${showResponse(res)}`);
  const root = parseXml(res.body);
  assert.equal(root.name, 'ListBucketResult', what);
  const dec = (v: string | undefined): string | undefined => (v === undefined || !encoded ? v : urlDecode(v));
  // Contents come first, then CommonPrefixes; the model orders both together.
  const contents = childrenNamed(root, 'Contents').map((c) => ({
    key: dec(text(c, 'Key')) ?? '',
    size: Number(text(c, 'Size')),
    etag: text(c, 'ETag') ?? '',
  }));
  const prefixes = childrenNamed(root, 'CommonPrefixes').map((p) => dec(text(p, 'Prefix')) ?? '');
  const entries: Entry[] = [
    ...contents.map((c): Entry => ({ kind: 'key', value: c.key })),
    ...prefixes.map((p): Entry => ({ kind: 'prefix', value: p })),
  ].sort((a, b) => byUtf8(a.value, b.value));
  const echoed: Record<string, string | undefined> = {};
  for (const name of ['Name', 'Prefix', 'Delimiter', 'MaxKeys', 'Marker', 'StartAfter', 'ContinuationToken', 'EncodingType', 'NextMarker']) {
    const raw = text(root, name);
    echoed[name] = ['Name', 'MaxKeys', 'ContinuationToken', 'EncodingType'].includes(name) ? raw : dec(raw);
  }
  const truncated = text(root, 'IsTruncated');
  assert.ok(truncated === 'true' || truncated === 'false', `${what}: IsTruncated ${truncated}`);
  const keyCount = text(root, 'KeyCount');
  return {
    entries,
    contents,
    isTruncated: truncated === 'true',
    next: text(root, 'NextContinuationToken') ?? dec(text(root, 'NextMarker')),
    keyCount: keyCount === undefined ? undefined : Number(keyCount),
    echoed,
  };
}

interface Combo {
  version: 1 | 2;
  prefix: string | undefined;
  delimiter: string | undefined;
  maxKeys: number | undefined;
  /** V1 marker or V2 start-after */
  marker: string | undefined;
  encoded: boolean;
  /** read through the JS SDK instead of raw signed requests */
  viaSdk: boolean;
}

function randomCombo(rng: Random, keys: readonly string[]): Combo {
  const someKey = (): string => rng.pick(keys);
  const prefixRoll = rng.int(10);
  const prefix =
    prefixRoll < 2 ? undefined
    : prefixRoll < 3 ? ''
    : prefixRoll < 7 ? cut(rng, someKey())
    : prefixRoll < 8 ? someKey()
    : prefixRoll < 9 ? rng.pick(PIECES)
    : (() => {
        const k = someKey();
        const at = k.indexOf('/');
        return at >= 0 ? k.slice(0, at + 1) : k;
      })();
  const delimiter = rng.chance(0.3) ? undefined : rng.pick(DELIMITERS);
  const maxKeys = rng.chance(0.12) ? undefined : rng.pick(MAX_KEYS_CHOICES);
  const markerRoll = rng.int(10);
  const marker =
    markerRoll < 4 ? undefined
    : markerRoll < 6 ? someKey()
    : markerRoll < 8 ? cut(rng, someKey())
    : markerRoll < 9 ? randomKey(rng)
    : (() => {
        // a common prefix of the listing itself, the case upstream gets wrong (§5.2 step 3)
        const cps = entriesOf(keys, prefix ?? '', delimiter ?? '').filter((e) => e.kind === 'prefix');
        return cps.length > 0 ? rng.pick(cps).value : someKey();
      })();
  const version = rng.chance(0.5) ? 1 : 2;
  const encoded = rng.chance(0.4);
  // The SDK does not decode url-encoded listings itself; it reads the plain ones.
  const viaSdk = !encoded && rng.chance(0.35);
  return { version, prefix, delimiter, maxKeys, marker, encoded, viaSdk };
}

function describeCombo(c: Combo): string {
  return JSON.stringify(c);
}

/** One page through raw signed requests (every field visible) or the SDK. */
async function fetchPage(endpoint: string, s3: S3Client, c: Combo, resume: string | undefined): Promise<ServerPage> {
  if (c.viaSdk) return fetchPageSdk(s3, c, resume);
  const query: Record<string, string> = {};
  if (c.version === 2) query['list-type'] = '2';
  if (c.prefix !== undefined) query['prefix'] = c.prefix;
  if (c.delimiter !== undefined) query['delimiter'] = c.delimiter;
  if (c.maxKeys !== undefined) query['max-keys'] = String(c.maxKeys);
  if (c.encoded) query['encoding-type'] = 'url';
  if (c.version === 1) {
    const marker = resume ?? c.marker;
    if (marker !== undefined) query['marker'] = marker;
  } else {
    if (c.marker !== undefined) query['start-after'] = c.marker;
    if (resume !== undefined) query['continuation-token'] = resume;
  }
  const res = await signedRequest(endpoint, { method: 'GET', path: `/${BUCKET}`, query });
  return parseListing(res, c.encoded, describeCombo(c));
}

async function fetchPageSdk(s3: S3Client, c: Combo, resume: string | undefined): Promise<ServerPage> {
  const common = { Bucket: BUCKET, Prefix: c.prefix, Delimiter: c.delimiter, MaxKeys: c.maxKeys };
  const toPage = (
    contents: Array<{ Key?: string; Size?: number; ETag?: string }> | undefined,
    prefixes: Array<{ Prefix?: string }> | undefined,
    isTruncated: boolean | undefined,
    next: string | undefined,
    keyCount: number | undefined,
    echoed: Record<string, string | undefined>,
  ): ServerPage => {
    const cs = (contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? -1, etag: o.ETag ?? '' }));
    const entries: Entry[] = [
      ...cs.map((o): Entry => ({ kind: 'key', value: o.key })),
      ...(prefixes ?? []).map((p): Entry => ({ kind: 'prefix', value: p.Prefix ?? '' })),
    ].sort((a, b) => byUtf8(a.value, b.value));
    return { entries, contents: cs, isTruncated: isTruncated === true, next, keyCount, echoed };
  };
  if (c.version === 1) {
    const r = await s3.send(new ListObjectsCommand({ ...common, Marker: resume ?? c.marker }));
    return toPage(r.Contents, r.CommonPrefixes, r.IsTruncated, r.NextMarker, undefined, {
      Name: r.Name, Prefix: r.Prefix, Delimiter: r.Delimiter, MaxKeys: r.MaxKeys === undefined ? undefined : String(r.MaxKeys), Marker: r.Marker,
    });
  }
  const r = await s3.send(new ListObjectsV2Command({ ...common, StartAfter: c.marker, ContinuationToken: resume }));
  return toPage(r.Contents, r.CommonPrefixes, r.IsTruncated, r.NextContinuationToken, r.KeyCount, {
    Name: r.Name, Prefix: r.Prefix, Delimiter: r.Delimiter, MaxKeys: r.MaxKeys === undefined ? undefined : String(r.MaxKeys),
    StartAfter: r.StartAfter, ContinuationToken: r.ContinuationToken,
  });
}

function showEntries(entries: Entry[]): string {
  return JSON.stringify(entries.map((e) => (e.kind === 'prefix' ? `[${e.value}]` : e.value)));
}

/** Walks one combination page by page, comparing every page with the model. Returns pages read. */
async function checkCombo(endpoint: string, s3: S3Client, keys: readonly string[], c: Combo): Promise<number> {
  const prefix = c.prefix ?? '';
  const delimiter = c.delimiter ?? '';
  const requestedMax = c.maxKeys ?? 1000;
  let modelMarker = c.marker ?? '';
  let resume: string | undefined;
  let pages = 0;
  for (;;) {
    const what = `seed ${SEED} ${describeCombo(c)} page ${pages + 1} (model marker ${JSON.stringify(modelMarker)})`;
    const page = await fetchPage(endpoint, s3, c, resume);
    const expected = modelPage(keys, prefix, delimiter, modelMarker, requestedMax);
    pages++;

    assert.equal(showEntries(page.entries), showEntries(expected.entries), `${what}: entries`);
    assert.equal(page.isTruncated, expected.isTruncated, `${what}: IsTruncated`);
    for (const o of page.contents) {
      assert.equal(o.size, bodyOf(o.key).length, `${what}: Size of ${JSON.stringify(o.key)}`);
      assert.equal(o.etag, etagOf(o.key), `${what}: ETag of ${JSON.stringify(o.key)}`);
    }
    // Echoed request fields.
    assert.equal(page.echoed['Name'], BUCKET, what);
    assert.equal(page.echoed['Prefix'] ?? '', prefix, `${what}: Prefix echo`);
    assert.equal(page.echoed['Delimiter'], c.delimiter, `${what}: Delimiter echo`);
    assert.equal(page.echoed['MaxKeys'], String(requestedMax), `${what}: MaxKeys echo`);
    if (!c.viaSdk) assert.equal(page.echoed['EncodingType'], c.encoded ? 'url' : undefined, `${what}: EncodingType echo`);
    const last = expected.entries[expected.entries.length - 1];
    if (c.version === 2) {
      assert.equal(page.keyCount, expected.entries.length, `${what}: KeyCount`);
      // (the SDK's view of an empty <StartAfter/> is not the server's business)
      if (!(c.viaSdk && c.marker === '')) assert.equal(page.echoed['StartAfter'], c.marker, `${what}: StartAfter echo`);
      assert.equal(page.echoed['ContinuationToken'], resume, `${what}: ContinuationToken echo`);
      assert.equal(page.next !== undefined, expected.isTruncated, `${what}: NextContinuationToken present iff truncated`);
    } else {
      assert.equal(page.keyCount, undefined, `${what}: V1 has no KeyCount`);
      assert.equal(page.echoed['Marker'] ?? '', resume ?? c.marker ?? '', `${what}: Marker echo`);
      // The server sends NextMarker whenever truncated (spec §5.4); it must be the last entry.
      assert.equal(page.next, expected.isTruncated ? last?.value : undefined, `${what}: NextMarker`);
    }
    if (!expected.isTruncated || page.next === undefined || pages >= PAGE_CAP) return pages;
    resume = page.next;
    modelMarker = last?.value ?? modelMarker;
  }
}

interface Variant {
  engine: HttpEngineName;
  metadata: MetadataEngineName;
}
const VARIANTS: Variant[] = [
  { engine: 'node', metadata: 'memory' },
  { engine: 'uws', metadata: 'memory' },
  // The SQLite engine has its own range reader; one pass keeps it honest too.
  { engine: 'node', metadata: 'sqlite' },
];

for (const variant of VARIANTS) {
  describe(`listing property [${variant.engine}, ${variant.metadata} metadata]`, () => {
    let server: BleepStoreServer;
    let endpoint: string;
    let s3: S3Client;
    let dataDir: string;
    const rng = new Random(SEED);
    const keys = makeKeys(rng);

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'bleepstore-listing-'));
      const config = defaultConfig();
      config.server.host = '127.0.0.1';
      config.server.port = 0;
      config.server.http_engine = variant.engine;
      config.logging.level = 'error';
      config.auth.access_key = ACCESS_KEY;
      config.auth.secret_key = SECRET_KEY;
      config.server.region = REGION;
      config.metadata.engine = variant.metadata;
      config.metadata.sqlite.path = join(dataDir, 'metadata.db');
      config.storage.backend = 'memory';
      server = await createServer(config);
      const port = await server.listen();
      endpoint = `http://127.0.0.1:${port}`;
      s3 = new S3Client({
        endpoint,
        region: REGION,
        forcePathStyle: true,
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        maxAttempts: 1,
      });
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      // Upload in small parallel batches.
      for (let i = 0; i < keys.length; i += 16) {
        await Promise.all(keys.slice(i, i + 16).map((key) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodyOf(key) }))));
      }
    });

    after(async () => {
      s3?.destroy();
      await server?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    test('full listing (no parameters) returns every key once, in UTF-8 byte order', async (t) => {
      t.diagnostic(`seed ${SEED} (replay with LISTING_SEED=${SEED})`);
      const listed: string[] = [];
      let token: string | undefined;
      do {
        const query: Record<string, string> = { 'list-type': '2' };
        if (token !== undefined) query['continuation-token'] = token;
        const page = parseListing(await signedRequest(endpoint, { method: 'GET', path: `/${BUCKET}`, query }), false, 'full listing');
        listed.push(...page.contents.map((c) => c.key));
        token = page.isTruncated ? page.next : undefined;
      } while (token !== undefined);
      assert.deepEqual(listed, keys);
    });

    test(`${COMBOS_PER_SERVER} random parameter combinations, V1 and V2, every page against the model`, { timeout: 60_000 }, async (t) => {
      const comboRng = new Random(SEED ^ 0x5eed);
      let pages = 0;
      const seen = { v1: 0, v2: 0, encoded: 0, sdk: 0, truncated: 0 };
      for (let i = 0; i < COMBOS_PER_SERVER; i++) {
        const combo = randomCombo(comboRng, keys);
        const n = await checkCombo(endpoint, s3, keys, combo);
        pages += n;
        seen[combo.version === 1 ? 'v1' : 'v2']++;
        if (combo.encoded) seen.encoded++;
        if (combo.viaSdk) seen.sdk++;
        if (n > 1) seen.truncated++;
      }
      t.diagnostic(`seed ${SEED}: ${pages} pages; ${JSON.stringify(seen)}`);
      assert.ok(seen.truncated > 10, 'too few multi-page walks to mean anything');
    });

    test('every max-keys value walks the whole bucket (V1 and V2) to exactly the key set', async () => {
      for (const maxKeys of [7, 1000, 1001]) {
        for (const version of [1, 2] as const) {
          const combo: Combo = { version, prefix: undefined, delimiter: undefined, maxKeys, marker: undefined, encoded: version === 1, viaSdk: false };
          const listed: string[] = [];
          let resume: string | undefined;
          for (;;) {
            const page = await fetchPage(endpoint, s3, combo, resume);
            listed.push(...page.entries.map((e) => e.value));
            if (!page.isTruncated) break;
            assert.ok(page.next !== undefined, `${describeCombo(combo)}: truncated without a next marker`);
            resume = page.next;
          }
          assert.deepEqual(listed, keys, describeCombo(combo));
        }
      }
    });

    test('keys XML 1.0 cannot carry (U+FFFF, U+FFFE, C0 controls) round-trip with encoding-type=url', async () => {
      const odd = ['odd/\uffff', 'odd/\ufffe-x', 'odd/\u0001ctl', 'odd/\u001f', 'odd/cr\rlf\n'];
      for (const key of odd) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodyOf(key) }));
      try {
        for (const version of [1, 2] as const) {
          const query: Record<string, string> = { prefix: 'odd/', 'encoding-type': 'url' };
          if (version === 2) query['list-type'] = '2';
          const page = parseListing(await signedRequest(endpoint, { method: 'GET', path: `/${BUCKET}`, query }), true, `odd keys V${version}`);
          assert.deepEqual(page.contents.map((c) => c.key), [...odd].sort(byUtf8), `V${version}`);
        }
      } finally {
        for (const key of odd) await signedRequest(endpoint, { method: 'DELETE', path: `/${BUCKET}/${encodeURIComponent(key)}` });
      }
    });

    test('a key with a carriage return lists exactly, without encoding-type (XML must escape CR)', async () => {
      const key = 'cr/line\r\nbreak\rkey';
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodyOf(key) }));
      try {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'cr/' }));
        assert.deepEqual(r.Contents?.map((c) => c.Key), [key]);
      } finally {
        // The SDK writes the CR as a character reference in the Delete XML; it must come back as itself.
        const d = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: key }] } }));
        const head = await signedRequest(endpoint, { method: 'HEAD', path: `/${BUCKET}/${encodeURIComponent(key)}` });
        assert.equal(head.status, 404, 'DeleteObjects did not delete the CR key');
        assert.deepEqual(d.Errors ?? [], []);
      }
    });

    test('DeleteObjects of every random key reports each one deleted and empties the bucket', async () => {
      // Runs last: the same odd keys (XML specials, tabs, edge spaces, astral) through the request XML.
      const r = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
      assert.deepEqual(r.Errors ?? [], []);
      assert.deepEqual((r.Deleted ?? []).map((d) => d.Key ?? '').sort(byUtf8), keys);
      const left = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      assert.equal(left.KeyCount, 0, JSON.stringify(left.Contents?.slice(0, 5)));
    });

    test('bad listing parameters are InvalidArgument, and the next listing works', async () => {
      const bad: Array<Record<string, string>> = [
        { 'list-type': '2', 'max-keys': '-1' },
        { 'max-keys': 'abc' },
        { 'list-type': '2', 'max-keys': '1.5' },
        { 'encoding-type': 'base64' },
        { 'list-type': '2', 'continuation-token': '!!not-a-token!!' },
        { 'list-type': '2', 'continuation-token': '' },
      ];
      for (const query of bad) {
        const res = await signedRequest(endpoint, { method: 'GET', path: `/${BUCKET}`, query });
        assert.equal(res.status, 400, `${JSON.stringify(query)}: ${showResponse(res)}`);
        assert.equal(errorCode(res.body), 'InvalidArgument', `${JSON.stringify(query)}: ${showResponse(res)}`);
      }
      const ok = await signedRequest(endpoint, { method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', 'max-keys': '1' } });
      assert.equal(ok.status, 200, showResponse(ok));
    });
  });
}
