// Micro benchmarks (`npm run bench:micro`, tinybench): the per-request and per-byte costs that
// decide the server's CPU budget — SigV4 verification, aws-chunked decoding and body ingest,
// MD5/SHA-256 and the flexible checksums over 1 MiB, S3 XML render/parse at 1000 entries, and
// the metadata engines (SQLite, memory) putObject / getObject / listObjects page of 1000 —
// plus the load generator's own per-request signing cost (bench/sigv4-signer.ts).
// Every fixture is checked once before timing, so a broken module shows as an error row.
import { createHash, createHmac, randomBytes, type BinaryLike } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';
import { SignatureV4 } from '@smithy/signature-v4';
import Database from 'better-sqlite3';
import { Bench } from 'tinybench';
import { AwsChunkedDecoder } from '../src/auth/aws-chunked.js';
import { EMPTY_SHA256, STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER, SigV4Verifier, type PayloadMode, type SigningContext } from '../src/auth/sigv4.js';
import { createChecksum, type ChecksumAlgorithm } from '../src/checksum/index.js';
import { createIngest } from '../src/ingest/ingest.js';
import { MemoryMetadataStore } from '../src/metadata/memory.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import type { MetadataStore, ObjectRecord } from '../src/metadata/types.js';
import { parseXml } from '../src/xml/parser.js';
import { renderS3Xml, type XmlNode } from '../src/xml/writer.js';
import { BenchSigner } from './sigv4-signer.js';
import { fmt, formatTable } from './table.js';

const MiB = 1024 * 1024;
const ACCESS_KEY = 'bleepstore';
const SECRET_KEY = 'bleepstore-secret';
const REGION = 'us-east-1';
const HOST = '127.0.0.1:9000';

interface Case {
  group: string;
  name: string;
  /** Bytes processed per call, for MiB/s. */
  bytes?: number;
  /** Builds the fixture and checks it once; returns the function to time. */
  setup: () => Promise<() => unknown>;
}

// ---- SigV4 -----------------------------------------------------------------------------

/** node:crypto behind the hash interface @smithy/signature-v4 expects. */
class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  private readonly secret: BinaryLike | undefined;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret =
      secret === undefined || typeof secret === 'string'
        ? secret
        : secret instanceof ArrayBuffer
          ? Buffer.from(secret)
          : Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength);
    this.hash = this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: Uint8Array | string): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

async function sigv4Case(path: string, query: Record<string, string>): Promise<() => Promise<unknown>> {
  const signer = new SignatureV4({ credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, region: REGION, service: 's3', sha256: NodeSha256, uriEscapePath: false });
  const signingDate = new Date();
  const signed = await signer.sign(
    { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path, query, headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { signingDate },
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  const rawQuery = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const credentials = { getCredential: async (ak: string) => (ak === ACCESS_KEY ? { secret_key: SECRET_KEY, owner_id: 'owner', display_name: ACCESS_KEY } : null) };
  const verifier = new SigV4Verifier(credentials, { now: () => signingDate.getTime() });
  const body = Readable.from([]);
  const request = { method: 'GET', rawPath: path, rawQuery, headers, body };
  const result = await verifier.verify(request); // throws if the fixture does not verify
  if (result.principal.accessKeyId !== ACCESS_KEY) throw new Error('verified as the wrong principal');
  return () => verifier.verify(request);
}

// ---- aws-chunked -----------------------------------------------------------------------

const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function signingContext(): SigningContext {
  const timestamp = '20260101T000000Z';
  let key: Buffer = createHmac('sha256', 'AWS4' + SECRET_KEY).update(timestamp.slice(0, 8)).digest();
  for (const part of [REGION, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return { signingKey: key, timestamp, scope: `${timestamp.slice(0, 8)}/${REGION}/s3/aws4_request`, seedSignature: sha256Hex('seed') };
}

/** A 1 MiB payload framed as aws-chunked in 64 KiB chunks, signed or unsigned-with-CRC32-trailer. */
function awsChunkedBody(payload: Buffer, ctx: SigningContext, signed: boolean): Buffer {
  const parts: Buffer[] = [];
  let previous = ctx.seedSignature;
  const chunkLine = (data: Buffer): string => {
    if (!signed) return data.length.toString(16);
    const stringToSign = `AWS4-HMAC-SHA256-PAYLOAD\n${ctx.timestamp}\n${ctx.scope}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`;
    previous = createHmac('sha256', ctx.signingKey).update(stringToSign).digest('hex');
    return `${data.length.toString(16)};chunk-signature=${previous}`;
  };
  for (let at = 0; at < payload.length; at += 64 * 1024) {
    const data = payload.subarray(at, at + 64 * 1024);
    parts.push(Buffer.from(chunkLine(data) + '\r\n'), data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(chunkLine(Buffer.alloc(0)) + '\r\n'));
  if (!signed) {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(payload));
    parts.push(Buffer.from(`x-amz-checksum-crc32:${crc.toString('base64')}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** The body as the engine would deliver it: 512 KiB pieces (the uWS onData size). */
function pieces(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += 512 * 1024) out.push(body.subarray(at, at + 512 * 1024));
  return out;
}

async function decoderCase(): Promise<() => unknown> {
  const payload = randomBytes(MiB);
  const encoded = pieces(awsChunkedBody(payload, signingContext(), true));
  const run = (): number => {
    const decoder = new AwsChunkedDecoder({ signing: signingContext(), trailer: false });
    let n = 0;
    for (const piece of encoded) decoder.write(piece, (d) => (n += d.length));
    decoder.end();
    return n;
  };
  if (run() !== MiB) throw new Error('decoder returned the wrong length');
  return run;
}

async function ingestCase(mode: 'raw' | 'signed' | 'unsigned-trailer'): Promise<() => Promise<unknown>> {
  const payload = randomBytes(MiB);
  const ctx = signingContext();
  const expectedMd5 = createHash('md5').update(payload).digest('hex');
  let body: Buffer[];
  let payloadMode: PayloadMode;
  let headers: Record<string, string>;
  if (mode === 'raw') {
    body = pieces(payload);
    payloadMode = { kind: 'unsigned' };
    headers = { 'content-length': String(MiB), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  } else {
    const signed = mode === 'signed';
    const encoded = awsChunkedBody(payload, ctx, signed);
    body = pieces(encoded);
    payloadMode = { kind: 'aws-chunked', signed, trailer: !signed, signing: ctx };
    headers = {
      'content-length': String(encoded.length),
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(MiB),
      'x-amz-content-sha256': signed ? STREAMING_SIGNED : STREAMING_UNSIGNED_TRAILER,
      ...(signed ? {} : { 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-sdk-checksum-algorithm': 'CRC32' }),
    };
  }
  const run = async (): Promise<string> => {
    const ingest = createIngest(Readable.from(body), { payload: payloadMode, headers, maxSize: 5 * 1024 ** 3 });
    for await (const _chunk of ingest.stream) {
      // drain: the benchmark measures decoding and hashing, not storage
    }
    return (await ingest.finish()).md5Hex;
  };
  if ((await run()) !== expectedMd5) throw new Error('ingest produced the wrong MD5');
  return run;
}

// ---- hashes and checksums ----------------------------------------------------------------

async function hashCase(alg: 'md5' | 'sha256'): Promise<() => unknown> {
  const data = randomBytes(MiB);
  return () => createHash(alg).update(data).digest();
}

async function checksumCase(alg: ChecksumAlgorithm): Promise<() => unknown> {
  const data = randomBytes(MiB);
  // The standard check values of "123456789" (0xCBF43926, 0xE3069283, 0xAE8B14860A799888).
  const known: Partial<Record<ChecksumAlgorithm, string>> = { crc32: 'y/Q5Jg==', crc32c: '4waSgw==', crc64nvme: 'rosUhgp5mIg=' };
  const check = known[alg];
  if (check !== undefined) {
    const h = createChecksum(alg);
    h.update(Buffer.from('123456789'));
    const got = h.digestBase64();
    if (got !== check) throw new Error(`${alg}("123456789") = ${got}, expected ${check}`);
  }
  return () => {
    const h = createChecksum(alg);
    h.update(data);
    return h.digestBase64();
  };
}

async function crc32RawCase(): Promise<() => unknown> {
  const data = randomBytes(MiB);
  return () => crc32(data);
}

// ---- XML -------------------------------------------------------------------------------

async function renderCase(): Promise<() => unknown> {
  const contents: XmlNode[] = Array.from({ length: 1000 }, (_, i) => [
    'Contents',
    [
      ['Key', `photos/2026/album-${Math.floor(i / 100)}/IMG_${String(i).padStart(5, '0')}&raw.jpg`],
      ['LastModified', '2026-01-01T00:00:00.000Z'],
      ['ETag', `"${createHash('md5').update(String(i)).digest('hex')}"`],
      ['Size', 4096 + i],
      ['StorageClass', 'STANDARD'],
    ],
  ]);
  const doc: XmlNode[] = [['Name', 'bench'], ['Prefix', 'photos/'], ['KeyCount', 1000], ['MaxKeys', 1000], ['IsTruncated', false], ...contents];
  const run = (): Buffer => renderS3Xml('ListBucketResult', doc);
  const size = run().length;
  if (!run().toString().includes('IMG_00999&amp;raw.jpg')) throw new Error('render output is missing an escaped key');
  renderCase.bytes = size;
  return run;
}
renderCase.bytes = 0;

async function parseCase(): Promise<() => unknown> {
  const parts = Array.from({ length: 1000 }, (_, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>&quot;${createHash('md5').update(String(i)).digest('hex')}&quot;</ETag></Part>`);
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</CompleteMultipartUpload>`);
  parseCase.bytes = body.length;
  const run = (): unknown => parseXml(body);
  const root = parseXml(body);
  if (root.children.length !== 1000 || !root.children[999]?.children[1]?.text.startsWith('"')) throw new Error('parse returned the wrong tree');
  return run;
}
parseCase.bytes = 0;

// ---- metadata engines ------------------------------------------------------------------

const META_BUCKET = 'bench';
const META_KEYS = 10_000;
/** Run after the benchmarks: closes stores and removes their temp dirs. */
const cleanups: (() => Promise<void>)[] = [];

function metaKey(i: number): string {
  return `photos/album-${String(Math.floor(i / 100)).padStart(3, '0')}/IMG_${String(i).padStart(6, '0')}.jpg`;
}

function objectRecord(key: string, size: number): ObjectRecord {
  return {
    bucket: META_BUCKET,
    key,
    size,
    etag: `"${createHash('md5').update(key).digest('hex')}"`,
    content_type: 'image/jpeg',
    content_encoding: null,
    content_language: null,
    content_disposition: null,
    cache_control: null,
    expires: null,
    storage_class: 'STANDARD',
    acl: '{}',
    user_metadata: '{"x-amz-meta-camera":"bench"}',
    last_modified: '2026-01-01T00:00:00.000Z',
    delete_marker: false,
  };
}

/** One store per engine, shared by its cases: a bucket of META_KEYS objects. */
const storePromises = new Map<string, Promise<MetadataStore>>();
function metadataStore(engine: 'sqlite' | 'memory'): Promise<MetadataStore> {
  let p = storePromises.get(engine);
  if (p === undefined) {
    p = (async () => {
      let store: MetadataStore;
      if (engine === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'bleepstore-micro-'));
        store = new SqliteMetadataStore(join(dir, 'metadata.db'));
        cleanups.push(async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        });
      } else {
        store = new MemoryMetadataStore();
        cleanups.push(() => store.close());
      }
      await store.init();
      await store.createBucket({ name: META_BUCKET, region: REGION, owner_id: 'owner', owner_display: 'owner', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
      for (let i = 0; i < META_KEYS; i++) await store.putObject(objectRecord(metaKey(i), i));
      return store;
    })();
    storePromises.set(engine, p);
  }
  return p;
}

/** Overwrites existing keys in turn, so the table size stays steady however many iterations run. */
async function metaPutCase(engine: 'sqlite' | 'memory'): Promise<() => Promise<unknown>> {
  const store = await metadataStore(engine);
  const records = Array.from({ length: 1000 }, (_, i) => objectRecord(metaKey((i * 7919) % META_KEYS), 4096));
  let n = 0;
  await store.putObject(records[0] as ObjectRecord);
  if ((await store.getObject(META_BUCKET, (records[0] as ObjectRecord).key))?.size !== 4096) throw new Error('putObject did not take');
  return () => store.putObject(records[n++ % records.length] as ObjectRecord);
}

async function metaGetCase(engine: 'sqlite' | 'memory'): Promise<() => Promise<unknown>> {
  const store = await metadataStore(engine);
  const keys = Array.from({ length: 1000 }, (_, i) => metaKey((i * 7919) % META_KEYS));
  const probe = await store.getObject(META_BUCKET, keys[1] as string);
  if (probe?.key !== keys[1] || probe.etag.length !== 34) throw new Error('getObject returned the wrong record');
  let n = 0;
  return () => store.getObject(META_BUCKET, keys[n++ % keys.length] as string);
}

async function metaListCase(engine: 'sqlite' | 'memory'): Promise<() => Promise<unknown>> {
  const store = await metadataStore(engine);
  // Pages starting at different places, all full: the start keys leave >= 1000 keys after them.
  const starts = Array.from({ length: 64 }, (_, i) => metaKey(((i * 131) % (META_KEYS - 1000)) + 1));
  const page = await store.listObjects(META_BUCKET, { prefix: '', delimiter: '', maxKeys: 1000, startAfter: starts[3] as string });
  if (page.contents.length !== 1000 || !page.isTruncated || (page.contents[0]?.key ?? '') <= (starts[3] as string)) throw new Error('listObjects returned the wrong page');
  let n = 0;
  return () => store.listObjects(META_BUCKET, { prefix: '', delimiter: '', maxKeys: 1000, startAfter: starts[n++ % starts.length] as string });
}

// ---- the load generator ----------------------------------------------------------------

async function generatorSignCase(): Promise<() => unknown> {
  const signer = new BenchSigner(ACCESS_KEY, SECRET_KEY, REGION);
  const headers = signer.sign('PUT', '/bench/key-w0-1', [], HOST);
  if (!headers.authorization.startsWith(`AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/`)) throw new Error('signer produced no authorization');
  let n = 0;
  return () => signer.sign('PUT', `/bench/key-w0-${n++}`, [], HOST, { 'content-length': '4096' });
}

// ---- design choices: SQLite synchronous mode, read chunk size ---------------------------

/** Autocommit upserts into an objects-shaped table in WAL mode, as every PUT's metadata commit is. */
async function sqliteSyncCase(mode: 'NORMAL' | 'FULL'): Promise<() => unknown> {
  const dir = await mkdtemp(join(tmpdir(), `bleepstore-micro-sync-${mode}-`));
  const db = new Database(join(dir, 'm.db'));
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${mode};`);
  db.exec('CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (bucket, key))');
  const upsert = db.prepare('INSERT OR REPLACE INTO objects (bucket, key, size, etag) VALUES (?, ?, ?, ?)');
  cleanups.push(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
  let i = 0;
  return () => upsert.run('b', `k${i++ % 1000}`, 4096, '"0123456789abcdef0123456789abcdef"');
}

/** Streams a 16 MiB file (page cache) with the given read chunk, as GET of a large object does. */
async function readChunkCase(chunk: number): Promise<() => Promise<unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'bleepstore-micro-read-'));
  const file = join(dir, 'object');
  await writeFile(file, randomBytes(16 * MiB));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return async () => {
    let n = 0;
    for await (const c of createReadStream(file, { highWaterMark: chunk })) n += (c as Buffer).length;
    if (n !== 16 * MiB) throw new Error('short read');
  };
}

// ---- main ------------------------------------------------------------------------------

const CASES: Case[] = [
  { group: 'auth', name: 'SigV4 verify: GET object, header auth', setup: () => sigv4Case('/bench/photos/IMG_0001.jpg', {}) },
  { group: 'auth', name: 'SigV4 verify: ListObjectsV2, 4 query params', setup: () => sigv4Case('/bench', { 'list-type': '2', prefix: 'photos/2026/', 'max-keys': '1000', 'continuation-token': 'b64+token/==' }) },
  { group: 'body', name: 'aws-chunked decode, signed 64 KiB chunks', bytes: MiB, setup: decoderCase },
  { group: 'body', name: 'ingest raw UNSIGNED-PAYLOAD (MD5)', bytes: MiB, setup: () => ingestCase('raw') },
  { group: 'body', name: 'ingest aws-chunked signed (MD5 + chunk sigs)', bytes: MiB, setup: () => ingestCase('signed') },
  { group: 'body', name: 'ingest aws-chunked unsigned + CRC32 trailer', bytes: MiB, setup: () => ingestCase('unsigned-trailer') },
  { group: 'hash', name: 'MD5', bytes: MiB, setup: () => hashCase('md5') },
  { group: 'hash', name: 'SHA-256', bytes: MiB, setup: () => hashCase('sha256') },
  { group: 'hash', name: 'CRC32 (zlib.crc32 directly)', bytes: MiB, setup: crc32RawCase },
  { group: 'hash', name: 'CRC32 (createChecksum)', bytes: MiB, setup: () => checksumCase('crc32') },
  { group: 'hash', name: 'CRC32C (createChecksum)', bytes: MiB, setup: () => checksumCase('crc32c') },
  { group: 'hash', name: 'CRC64NVME (createChecksum)', bytes: MiB, setup: () => checksumCase('crc64nvme') },
  { group: 'xml', name: 'render ListBucketResult, 1000 entries', setup: renderCase },
  { group: 'xml', name: 'parse CompleteMultipartUpload, 1000 parts', setup: parseCase },
  { group: 'metadata', name: `SqliteMetadataStore putObject (overwrite, ${META_KEYS / 1000}k keys)`, setup: () => metaPutCase('sqlite') },
  { group: 'metadata', name: 'SqliteMetadataStore getObject', setup: () => metaGetCase('sqlite') },
  { group: 'metadata', name: 'SqliteMetadataStore listObjects, page of 1000', setup: () => metaListCase('sqlite') },
  { group: 'metadata', name: `MemoryMetadataStore putObject (overwrite, ${META_KEYS / 1000}k keys)`, setup: () => metaPutCase('memory') },
  { group: 'metadata', name: 'MemoryMetadataStore getObject', setup: () => metaGetCase('memory') },
  { group: 'metadata', name: 'MemoryMetadataStore listObjects, page of 1000', setup: () => metaListCase('memory') },
  { group: 'generator', name: 'load generator: SigV4-sign one request (bench/sigv4-signer)', setup: generatorSignCase },
  { group: 'design', name: 'SQLite WAL autocommit upsert, synchronous=NORMAL (chosen)', setup: () => sqliteSyncCase('NORMAL') },
  { group: 'design', name: 'SQLite WAL autocommit upsert, synchronous=FULL', setup: () => sqliteSyncCase('FULL') },
  { group: 'design', name: 'read 16 MiB file, 256 KiB chunks (chosen)', bytes: 16 * MiB, setup: () => readChunkCase(256 * 1024) },
  { group: 'design', name: 'read 16 MiB file, 64 KiB chunks (Node default)', bytes: 16 * MiB, setup: () => readChunkCase(64 * 1024) },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { time: { type: 'string', default: '500' }, filter: { type: 'string' } } });
  const timeMs = Number(values.time);
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(200, timeMs / 2) });
  const failures = new Map<string, string>();
  const selected = CASES.filter((c) => values.filter === undefined || c.name.toLowerCase().includes(values.filter.toLowerCase()));
  for (const c of selected) {
    try {
      bench.add(c.name, await c.setup());
    } catch (e) {
      failures.set(c.name, (e as Error).message.split('\n')[0] ?? String(e));
    }
  }
  // XML sizes are known only after setup.
  const bytesOf = (c: Case): number | undefined => c.bytes ?? (c.setup === renderCase ? renderCase.bytes : c.setup === parseCase ? parseCase.bytes : undefined);
  try {
    await bench.run();
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }

  const rows: string[][] = [];
  const errors: string[] = [];
  for (const c of selected) {
    const failure = failures.get(c.name);
    const task = bench.getTask(c.name);
    const r = task?.result;
    if (failure !== undefined || r === undefined || !('throughput' in r)) {
      const why = failure ?? (r && 'error' in r ? String((r as { error: unknown }).error) : 'did not run');
      rows.push([c.group, c.name, 'ERROR', '', '', '', '', '', '']);
      errors.push(`${c.name}: ${why}`);
      continue;
    }
    const bytes = bytesOf(c);
    // Medians: on a shared 2-core machine the means carry GC and scheduling outliers.
    const medianMs = r.latency.p50;
    rows.push([
      c.group,
      c.name,
      fmt(1000 / medianMs),
      fmt(medianMs * 1000),
      fmt(r.latency.mean * 1000),
      fmt(r.latency.p99 * 1000),
      bytes === undefined ? '' : fmt(bytes / MiB / (medianMs / 1000)),
      bytes === undefined ? '' : bytes >= MiB ? `${bytes / MiB} MiB` : `${fmt(bytes / 1024)} KiB`,
      `±${r.latency.rme.toFixed(1)}%`,
    ]);
  }
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(
    [
      `BleepStore micro benchmarks — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load}, tinybench ${timeMs} ms per case`,
      'Single-threaded, on the calling thread. ops/s and MiB/s come from the median time per call (input bytes ÷ median).',
      '',
      formatTable(['group', 'case', 'ops/s', 'median µs', 'mean µs', 'p99 µs', 'MiB/s', 'input', 'rme of mean'], rows, 2),
      ...errors.map((e) => `ERROR ${e}`),
      '',
    ].join('\n'),
  );
  if (errors.length > 0) process.exitCode = 1;
}

main().catch((e: Error) => {
  process.stderr.write(`bench:micro: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
