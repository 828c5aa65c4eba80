// Tests specific to the gcp storage gateway (spec/storage.md §5.2), beyond the shared conformance
// suite: the compose round plan, the exact GCS JSON API requests of assembly (recorded by a small
// fake GCS on 127.0.0.1, because no offline GCS server implements compose), including the
// streaming fallback for a server without compose, error classification and retries, and the
// backing names, single-part and streamed assembly and staging cleanup against the real
// firebase-tools Storage emulator (which has no compose).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { File, Storage } from '@google-cloud/storage';
import { BackendUnavailableError } from '../src/cloud/retry.js';
import { MAX_COMPOSE_SOURCES, planCompose, roundsOf } from '../src/storage/gcp-compose.js';
import { GcpStorage, MAX_GCS_NAME_BYTES } from '../src/storage/gcp.js';
import { decodeRecoveryRef, encodeRecoveryRef } from '../src/storage/gcp-recovery.js';
import { StorageNotFoundError, type StagedWrite } from '../src/storage/types.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { GCS_TEST_BUCKET, GCS_TEST_PROJECT, start as startEmulator } from './servers/gcs-emulator.js';
import type { TestPeer } from './servers/types.js';
import { bodyOf, committed, readAll } from './storage-bodies.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// ---------------------------------------------------------------------------------------------
// The pure round planner.
// ---------------------------------------------------------------------------------------------

describe('planCompose (gcp compose rounds)', () => {
  const src = (n: number): string => `p/${n}`;
  const D = 'dest';

  it('1 source: a single step (executed as a copy)', () => {
    assert.deepEqual(planCompose([src(1)], D), { steps: [{ round: 0, destination: D, sources: [src(1)] }], intermediates: [] });
  });

  it('2 and 32 sources: one compose, sources in order', () => {
    assert.deepEqual(planCompose([src(1), src(2)], D).steps, [{ round: 0, destination: D, sources: [src(1), src(2)] }]);
    const all32 = range(1, 32).map(src);
    assert.deepEqual(planCompose(all32, D), { steps: [{ round: 0, destination: D, sources: all32 }], intermediates: [] });
  });

  it('33 sources: one batch of 32, the leftover passes through', () => {
    const sources = range(1, 33).map(src);
    assert.deepEqual(planCompose(sources, D), {
      steps: [
        { round: 0, destination: 'dest.__compose_tmp_0_0', sources: sources.slice(0, 32) },
        { round: 1, destination: D, sources: ['dest.__compose_tmp_0_0', src(33)] },
      ],
      intermediates: ['dest.__compose_tmp_0_0'],
    });
  });

  it('100 sources: batches start at 0, 32, 64, 96', () => {
    const sources = range(1, 100).map(src);
    const names = [0, 32, 64, 96].map((i) => `dest.__compose_tmp_0_${i}`);
    assert.deepEqual(planCompose(sources, D), {
      steps: [
        { round: 0, destination: names[0], sources: sources.slice(0, 32) },
        { round: 0, destination: names[1], sources: sources.slice(32, 64) },
        { round: 0, destination: names[2], sources: sources.slice(64, 96) },
        { round: 0, destination: names[3], sources: sources.slice(96, 100) },
        { round: 1, destination: D, sources: names },
      ],
      intermediates: names,
    });
  });

  it('1025 sources: two generations, the last part passes through both', () => {
    const sources = range(1, 1025).map(src);
    const plan = planCompose(sources, D);
    const gen0 = range(0, 31).map((b) => `dest.__compose_tmp_0_${b * 32}`);
    assert.equal(plan.steps.length, 34);
    plan.steps.slice(0, 32).forEach((step, b) => {
      assert.deepEqual(step, { round: 0, destination: gen0[b], sources: sources.slice(b * 32, b * 32 + 32) });
    });
    assert.deepEqual(plan.steps[32], { round: 1, destination: 'dest.__compose_tmp_1_0', sources: gen0 });
    assert.deepEqual(plan.steps[33], { round: 2, destination: D, sources: ['dest.__compose_tmp_1_0', src(1025)] });
    assert.deepEqual(plan.intermediates, [...gen0, 'dest.__compose_tmp_1_0']);
    assert.deepEqual(
      roundsOf(plan).map((r) => r.length),
      [32, 1, 1],
    );
  });

  it('never composes more than 32 sources and rejects an empty list', () => {
    for (const n of [31, 32, 33, 64, 65, 1023, 1024, 1025, 10000]) {
      const plan = planCompose(range(1, n).map(src), D);
      assert.ok(plan.steps.every((s) => s.sources.length <= MAX_COMPOSE_SOURCES && s.sources.length >= 1), String(n));
      assert.equal(plan.steps.at(-1)?.destination, D);
    }
    assert.throws(() => planCompose([], D), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// A fake GCS that records the JSON API requests the SDK sends and answers like GCS for the calls
// assembly makes: compose, rewriteTo (copy), delete, list, media reads and (for the streaming
// fallback) single-request resumable uploads.
// ---------------------------------------------------------------------------------------------

interface RecordedRequest {
  method: string;
  /** 'compose' | 'copy' | 'delete' | 'list' | 'get' | 'metadata' | 'upload-start' | 'upload' */
  op: string;
  object?: string;
  source?: string;
  sourceObjects?: string[];
  body?: Record<string, unknown>;
  /** upload-start: the X-Upload-Content-Type header. */
  contentType?: string;
  /** upload: how many bytes arrived. */
  bytes?: number;
}

/** What the firebase-tools Storage emulator answers for a route it lacks, compose included (express sendStatus(501)). */
function answerLikeEmulatorWithoutCompose(res: ServerResponse): void {
  res.writeHead(501, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not Implemented');
}

class RecordingGcs {
  readonly requests: RecordedRequest[] = [];
  /** name → size */
  readonly objects = new Map<string, number>();
  /** name → base64 MD5 sent in x-goog-hash */
  readonly md5s = new Map<string, string>();
  /** name → custom metadata, as GCS keeps it (compose sets it from the request, copy carries it). */
  readonly customMetadata = new Map<string, Record<string, string>>();
  /** name → bytes, for objects with real content (uploads; parts a test fills). Others read as 'a'×size. */
  readonly contents = new Map<string, Buffer>();
  /** Status codes to answer the next compose/copy/metadata calls with, in order. */
  readonly failNext: number[] = [];
  /** Answer every compose as the firebase-tools emulator does (it has none). */
  composeNotImplemented = false;
  /** Upload sessions: upload_id → { object name, custom metadata }. */
  private readonly sessions = new Map<string, { name: string; metadata?: Record<string, string> }>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  reset(objects: Iterable<[string, number]>): void {
    this.requests.length = 0;
    this.objects.clear();
    this.md5s.clear();
    this.customMetadata.clear();
    this.contents.clear();
    this.composeNotImplemented = false;
    for (const [name, size] of objects) this.objects.set(name, size);
  }

  /** Sets an object with real bytes. */
  put(name: string, data: Buffer): void {
    this.objects.set(name, data.length);
    this.contents.set(name, data);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the client gave up on the request (an aborted upload)
    }
    const raw = Buffer.concat(chunks);
    const isJson = (req.headers['content-type'] ?? '').startsWith('application/json');
    const body = isJson && raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    const url = new URL(req.url ?? '/', this.url);
    const parts = url.pathname.split('/').map(decodeURIComponent);
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const notFound = (): void => json(404, { error: { code: 404, message: 'No such object' } });
    const resource = (name: string): Record<string, unknown> => ({
      kind: 'storage#object', bucket: parts[2], name, size: String(this.objects.get(name)), ...(this.customMetadata.has(name) ? { metadata: this.customMetadata.get(name) } : {}),
    });

    // Resumable upload, sent as one request: POST starts the session, PUT carries every byte.
    if (url.pathname.startsWith('/upload/storage/v1/b/')) {
      const sessionId = url.searchParams.get('upload_id');
      if (req.method === 'POST' && sessionId === null) {
        const name = url.searchParams.get('name') ?? '';
        this.requests.push({ method: 'POST', op: 'upload-start', object: name, contentType: req.headers['x-upload-content-type'] as string, ...(body ? { body } : {}) });
        const id = String(this.sessions.size + 1);
        this.sessions.set(id, { name, metadata: body?.metadata as Record<string, string> | undefined });
        url.searchParams.set('upload_id', id);
        res.writeHead(200, { location: url.toString() });
        res.end();
        return;
      }
      const session = this.sessions.get(sessionId ?? '');
      if (req.method !== 'PUT' || session === undefined) return json(501, { error: { code: 501, message: 'not faked' } });
      this.requests.push({ method: 'PUT', op: 'upload', object: session.name, bytes: raw.length });
      this.put(session.name, raw);
      this.setCustomMetadata(session.name, session.metadata);
      return json(200, { ...resource(session.name), bucket: parts[5], md5Hash: createHash('md5').update(raw).digest('base64') });
    }

    // /b/{bucket}/o/{name}[/compose | /rewriteTo/b/{bucket}/o/{dest}]
    if (parts[1] !== 'b' || parts[3] !== 'o') return json(501, { error: { code: 501, message: 'not faked' } });
    const name = parts[4];
    if (req.method === 'GET' && name === undefined) {
      this.requests.push({ method: 'GET', op: 'list' });
      const prefix = url.searchParams.get('prefix') ?? '';
      const items = [...this.objects.keys()].filter((n) => n.startsWith(prefix)).sort().map(resource);
      return json(200, { kind: 'storage#objects', items });
    }
    if (name === undefined) return json(501, { error: { code: 501, message: 'not faked' } });
    if (req.method === 'GET' && url.searchParams.get('alt') === 'media') {
      // Media bytes are 'a' repeated; x-goog-hash carries the MD5 set in `md5s` (none = composite).
      this.requests.push({ method: 'GET', op: 'get', object: name });
      const size = this.objects.get(name);
      if (size === undefined) return notFound();
      const md5 = this.md5s.get(name);
      res.writeHead(200, { 'content-length': String(size), ...(md5 ? { 'x-goog-hash': `crc32c=AAAAAA==,md5=${md5}` } : {}) });
      res.end(this.contents.get(name) ?? 'a'.repeat(size));
      return;
    }
    if (req.method === 'GET' && parts[5] === undefined) {
      this.requests.push({ method: 'GET', op: 'metadata', object: name });
      const failure = this.failNext.shift();
      if (failure !== undefined) return json(failure, { error: { code: failure, message: `injected ${failure}` } });
      return this.objects.has(name) ? json(200, resource(name)) : notFound();
    }
    if (req.method === 'DELETE') {
      this.requests.push({ method: 'DELETE', op: 'delete', object: name });
      this.customMetadata.delete(name);
      this.contents.delete(name);
      if (!this.objects.delete(name)) return notFound();
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && parts[5] === 'compose') {
      const sourceObjects = ((body?.sourceObjects ?? []) as { name: string }[]).map((s) => s.name);
      this.requests.push({ method: 'POST', op: 'compose', object: name, sourceObjects, body });
      if (this.composeNotImplemented) return answerLikeEmulatorWithoutCompose(res);
      const failure = this.failNext.shift();
      if (failure !== undefined) return json(failure, { error: { code: failure, message: `injected ${failure}` } });
      if (sourceObjects.some((s) => !this.objects.has(s))) return notFound();
      this.objects.set(name, sourceObjects.reduce((sum, s) => sum + (this.objects.get(s) ?? 0), 0));
      this.setCustomMetadata(name, (body?.destination as { metadata?: Record<string, string> } | undefined)?.metadata);
      return json(200, resource(name));
    }
    if (req.method === 'POST' && parts[5] === 'rewriteTo') {
      const dest = parts[9] ?? '';
      this.requests.push({ method: 'POST', op: 'copy', source: name, object: dest, ...(body && Object.keys(body).length > 0 ? { body } : {}) });
      const failure = this.failNext.shift();
      if (failure !== undefined) return json(failure, { error: { code: failure, message: `injected ${failure}` } });
      if (!this.objects.has(name)) return notFound();
      this.objects.set(dest, this.objects.get(name) ?? 0);
      const bytes = this.contents.get(name);
      if (bytes !== undefined) this.contents.set(dest, bytes);
      // Like GCS: a destination resource replaces the metadata; without one the source's is carried.
      this.setCustomMetadata(dest, body && Object.keys(body).length > 0 ? (body.metadata as Record<string, string> | undefined) : this.customMetadata.get(name));
      const size = String(this.objects.get(dest));
      return json(200, { kind: 'storage#rewriteResponse', done: true, totalBytesRewritten: size, objectSize: size, resource: resource(dest) });
    }
    return json(501, { error: { code: 501, message: 'not faked' } });
  }

  private setCustomMetadata(name: string, metadata: Record<string, string> | undefined): void {
    if (metadata === undefined) this.customMetadata.delete(name);
    else this.customMetadata.set(name, metadata);
  }
}

/** A GcpStorage whose SDK client talks to `url` (the SDK reads STORAGE_EMULATOR_HOST only while the client is built). */
function gcpAt(url: string, settings: { bucket: string; prefix: string }): GcpStorage {
  const saved = process.env.STORAGE_EMULATOR_HOST;
  process.env.STORAGE_EMULATOR_HOST = url;
  try {
    return new GcpStorage({ ...settings, project: GCS_TEST_PROJECT, credentials_file: '' });
  } finally {
    if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = saved;
  }
}

const sorted = <T>(items: T[], key: (t: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));

/** The decoded recoveryRef of a staged write (asserting it is one this version writes). */
function identityOf(staged: StagedWrite): { name: string; token: string; temp?: string } {
  const identity = decodeRecoveryRef(staged.recoveryRef ?? '');
  assert.ok(identity !== undefined, `a gcs1 recoveryRef: ${staged.recoveryRef}`);
  return identity;
}

/** The custom metadata that carries a write token. */
const tokenMeta = (token: string): Record<string, string> => ({ 'bleepstore-write': token });

describe('GcpStorage assembly: exact requests (recording fake GCS)', () => {
  const gcs = new RecordingGcs();
  let backend: GcpStorage;
  const PREFIX = 'pfx/';
  const part = (n: number): string => `${PREFIX}.parts/UP/${n}`;
  const FINAL = `${PREFIX}bkt/dir/key`;

  before(async () => {
    await gcs.start();
    backend = gcpAt(gcs.url, { bucket: 'rec-bucket', prefix: PREFIX });
  });
  after(() => gcs.stop());

  /** Part n has n bytes. */
  function withParts(count: number): void {
    gcs.reset(range(1, count).map((n) => [part(n), n]));
  }

  /** The temp the final compose (or copy) wrote, which names the intermediates. */
  function tempOf(requests: RecordedRequest[]): string {
    const temp = requests.find((r) => r.object?.startsWith(`${PREFIX}.tmp/`) && !r.object.includes('.__compose_tmp_'))?.object ?? '';
    assert.match(temp, /^pfx\/\.tmp\/[0-9a-f-]{36}$/);
    return temp;
  }

  /**
   * Expected compose rounds for `count` parts, written out independently of planCompose:
   * each entry is [destination suffix ('' = the temp itself), source list].
   */
  function expectedRounds(count: number, temp: string): [string, string[]][][] {
    const t = (g: number, i: number): string => `${temp}.__compose_tmp_${g}_${i}`;
    const parts = (from: number, to: number): string[] => range(from, to).map(part);
    switch (count) {
      case 2:
        return [[[temp, parts(1, 2)]]];
      case 32:
        return [[[temp, parts(1, 32)]]];
      case 33:
        return [[[t(0, 0), parts(1, 32)]], [[temp, [t(0, 0), part(33)]]]];
      case 100:
        return [
          [
            [t(0, 0), parts(1, 32)],
            [t(0, 32), parts(33, 64)],
            [t(0, 64), parts(65, 96)],
            [t(0, 96), parts(97, 100)],
          ],
          [[temp, [t(0, 0), t(0, 32), t(0, 64), t(0, 96)]]],
        ];
      case 1025:
        return [
          range(0, 31).map((b) => [t(0, b * 32), parts(b * 32 + 1, b * 32 + 32)]),
          [[t(1, 0), range(0, 31).map((b) => t(0, b * 32))]],
          [[temp, [t(1, 0), part(1025)]]],
        ];
      default:
        throw new Error(`no expectation for ${count}`);
    }
  }

  it('1 part: one copy to a temp; commit copies it into place and deletes the temp', async () => {
    withParts(1);
    const staged = await backend.assembleParts('bkt', 'dir/key', 'UP', [1]);
    assert.equal(staged.size, 1);
    const temp = tempOf(gcs.requests);
    const { token } = identityOf(staged);
    assert.deepEqual(gcs.requests, [
      { method: 'POST', op: 'copy', source: part(1), object: temp, body: { contentType: 'application/octet-stream', metadata: tokenMeta(token) } },
    ]);
    assert.equal(gcs.objects.has(FINAL), false, 'nothing visible before commit');
    await staged.commit();
    assert.deepEqual(gcs.requests.slice(1), [
      { method: 'POST', op: 'copy', source: temp, object: FINAL },
      { method: 'DELETE', op: 'delete', object: temp },
    ]);
    assert.equal(gcs.objects.get(FINAL), 1);
    assert.deepEqual(gcs.customMetadata.get(FINAL), tokenMeta(token), 'the copy carried the write token');
  });

  for (const count of [2, 32, 33, 100, 1025]) {
    it(`${count} parts: compose rounds, then intermediates deleted, then commit`, async () => {
      withParts(count);
      const staged = await backend.assembleParts('bkt', 'dir/key', 'UP', range(1, count));
      assert.equal(staged.size, (count * (count + 1)) / 2, 'size of the composed object');
      const temp = tempOf(gcs.requests);
      const identity = identityOf(staged);
      assert.deepEqual({ ...identity, token: '' }, { name: FINAL, token: '', temp });
      const rounds = expectedRounds(count, temp);
      let at = 0;
      for (const [g, round] of rounds.entries()) {
        // Calls within a round run concurrently, so their order is free; rounds are sequential.
        const got = gcs.requests.slice(at, at + round.length);
        at += round.length;
        assert.deepEqual(
          sorted(got, (r) => r.object ?? ''),
          sorted(
            round.map(([destination, sources]) => ({ method: 'POST', op: 'compose', object: destination, sourceObjects: sources })),
            (r) => r.object,
          ).map((r) => ({
            ...r,
            // Only the compose into the temp sets the write token (as the destination's metadata).
            body: {
              destination: r.object === temp ? { contentType: 'application/octet-stream', metadata: tokenMeta(identity.token) } : {},
              sourceObjects: r.sourceObjects.map((name) => ({ name })),
            },
          })),
          `round ${g}`,
        );
      }
      const intermediates = rounds.flat().map(([d]) => d).filter((d) => d !== temp);
      const deletes = gcs.requests.slice(at, at + intermediates.length);
      at += intermediates.length;
      assert.deepEqual(
        sorted(deletes, (r) => r.object ?? ''),
        sorted(intermediates.map((object) => ({ method: 'DELETE', op: 'delete', object })), (r) => r.object),
      );
      assert.equal(gcs.requests.length, at, 'nothing else before commit');
      assert.equal(gcs.objects.has(FINAL), false, 'nothing visible before commit');

      await staged.commit();
      assert.deepEqual(gcs.requests.slice(at), [
        { method: 'POST', op: 'copy', source: temp, object: FINAL },
        { method: 'DELETE', op: 'delete', object: temp },
      ]);
      // Left behind: the parts (the caller deletes them after its metadata commit) and the object.
      assert.deepEqual([...gcs.objects.keys()].sort(), [...range(1, count).map(part), FINAL].sort());
      assert.deepEqual(gcs.customMetadata.get(FINAL), tokenMeta(identity.token), 'the copy carried the write token');
    });
  }

  it('after a crash, an assembly is committed iff the destination carries its token; the temp goes either way', async () => {
    withParts(40);
    const committedWrite = await backend.assembleParts('bkt', 'dir/key', 'UP', range(1, 40));
    await committedWrite.commit();
    const stagedOnly = await backend.assembleParts('bkt', 'dir/key', 'UP', range(1, 40));
    const { temp } = identityOf(stagedOnly);
    assert.ok(temp !== undefined && gcs.objects.has(temp));

    gcs.requests.length = 0;
    assert.equal(await backend.stagedWriteCommitted(stagedOnly.recoveryRef ?? ''), false);
    assert.deepEqual(gcs.requests, [
      { method: 'DELETE', op: 'delete', object: temp },
      { method: 'GET', op: 'metadata', object: FINAL },
    ], 'the temp is deleted before the destination is checked');
    assert.equal(await backend.stagedWriteCommitted(committedWrite.recoveryRef ?? ''), true);
    assert.deepEqual([...gcs.objects.keys()].filter((n) => n.includes('.tmp/')), [], 'no temp or intermediate left');
  });

  it('a destination that cannot be checked (503 after retries) throws, so the intent is kept', async () => {
    gcs.reset([[FINAL, 1]]);
    gcs.customMetadata.set(FINAL, tokenMeta('t'));
    const ref = encodeRecoveryRef({ name: FINAL, token: 't', temp: `${PREFIX}.tmp/x` });
    gcs.failNext.push(503, 503, 503, 503, 503);
    await assert.rejects(backend.stagedWriteCommitted(ref), (e) => e instanceof BackendUnavailableError && !e.throttled);
    assert.equal(gcs.requests.filter((r) => r.op === 'metadata').length, 5, 'retried');
    gcs.failNext.push(503);
    assert.equal(await backend.stagedWriteCommitted(ref), true, 'one 503 is retried');
  });

  it('discard deletes the composed temp', async () => {
    withParts(3);
    const staged = await backend.assembleParts('bkt', 'dir/key', 'UP', [3, 1]);
    assert.equal(staged.size, 4);
    const temp = tempOf(gcs.requests);
    assert.deepEqual(gcs.requests[0]?.sourceObjects, [part(3), part(1)], 'listed order, not numeric order');
    await staged.discard();
    assert.deepEqual(gcs.requests.slice(1), [{ method: 'DELETE', op: 'delete', object: temp }]);
    assert.deepEqual([...gcs.objects.keys()].sort(), [part(1), part(2), part(3)]);
  });

  it('a missing part fails with StorageNotFoundError and leaves no intermediate or temp', async () => {
    withParts(40);
    gcs.objects.delete(part(37));
    await assert.rejects(backend.assembleParts('bkt', 'dir/key', 'UP', range(1, 40)), StorageNotFoundError);
    assert.deepEqual([...gcs.objects.keys()].sort(), range(1, 40).filter((n) => n !== 37).map(part).sort());
    const temp = tempOf(gcs.requests);
    const deleted = gcs.requests.filter((r) => r.op === 'delete').map((r) => r.object);
    assert.ok(deleted.includes(temp) && deleted.includes(`${temp}.__compose_tmp_0_0`) && deleted.includes(`${temp}.__compose_tmp_0_32`));
  });

  it('retries a 503 on compose; persistent 429 surfaces as a throttled BackendUnavailableError', async () => {
    withParts(2);
    gcs.failNext.push(503);
    const staged = await backend.assembleParts('bkt', 'dir/key', 'UP', [1, 2]);
    assert.deepEqual(
      gcs.requests.map((r) => r.op),
      ['compose', 'compose'],
    );
    await staged.discard();

    withParts(2);
    gcs.failNext.push(429, 429, 429, 429, 429);
    await assert.rejects(backend.assembleParts('bkt', 'dir/key', 'UP', [1, 2]), (e) => e instanceof BackendUnavailableError && e.throttled);
    assert.equal(gcs.requests.filter((r) => r.op === 'compose').length, 5);

    withParts(2);
    gcs.failNext.push(403);
    await assert.rejects(backend.assembleParts('bkt', 'dir/key', 'UP', [1, 2]), (e) => !(e instanceof BackendUnavailableError));
    assert.equal(gcs.requests.filter((r) => r.op === 'compose').length, 1, 'a fatal error is not retried');
  });

  /** Parts with distinct random bytes (part n has 1000 + n bytes), for checking the streamed order. */
  function withContentParts(count: number): Buffer[] {
    gcs.reset([]);
    return range(1, count).map((n) => {
      const data = randomBytes(1000 + n);
      gcs.put(part(n), data);
      return data;
    });
  }

  it('compose answered like the emulator (501 Not Implemented): parts streamed in order into one upload to the temp, with the token; compose never tried again', async () => {
    const fresh = gcpAt(gcs.url, { bucket: 'rec-bucket', prefix: PREFIX }); // remembers nothing yet
    const data = withContentParts(3);
    gcs.composeNotImplemented = true;
    const staged = await fresh.assembleParts('bkt', 'dir/key', 'UP', [3, 1, 2]);
    const expected = Buffer.concat([data[2], data[0], data[1]] as Buffer[]);
    assert.equal(staged.size, expected.length);
    const identity = identityOf(staged);
    const temp = tempOf(gcs.requests);
    assert.equal(identity.temp, temp, 'the temp the compose named');
    assert.equal(identity.name, FINAL);
    /** The part reads, in the listed order, and one upload of them all to `into` carrying `token`. */
    const assertStreamed = (requests: RecordedRequest[], into: string, token: string): void => {
      // The upload session may open before or after the first part read; everything else is ordered.
      assert.deepEqual(
        requests.filter((r) => r.op !== 'upload-start'),
        [...[3, 1, 2].map((n) => ({ method: 'GET', op: 'get', object: part(n) })), { method: 'PUT', op: 'upload', object: into, bytes: expected.length }],
      );
      assert.deepEqual(
        requests.filter((r) => r.op === 'upload-start'),
        [{ method: 'POST', op: 'upload-start', object: into, contentType: 'application/octet-stream', body: { metadata: tokenMeta(token) } }],
        'one upload, with the token and the content type the compose would have set',
      );
    };
    assert.deepEqual(gcs.requests[0], {
      method: 'POST', op: 'compose', object: temp, sourceObjects: [3, 1, 2].map(part),
      body: { destination: { contentType: 'application/octet-stream', metadata: tokenMeta(identity.token) }, sourceObjects: [3, 1, 2].map((n) => ({ name: part(n) })) },
    });
    assertStreamed(gcs.requests.slice(1), temp, identity.token);
    assert.ok(gcs.contents.get(temp)?.equals(expected), 'the temp holds the parts in the listed order');
    assert.equal(gcs.objects.has(FINAL), false, 'nothing visible before commit');

    gcs.requests.length = 0;
    await staged.commit();
    assert.deepEqual(gcs.requests, [
      { method: 'POST', op: 'copy', source: temp, object: FINAL },
      { method: 'DELETE', op: 'delete', object: temp },
    ]);
    assert.ok(gcs.contents.get(FINAL)?.equals(expected));
    assert.deepEqual(gcs.customMetadata.get(FINAL), tokenMeta(identity.token), 'the copy carried the write token');
    assert.equal(await fresh.stagedWriteCommitted(staged.recoveryRef ?? ''), true, 'crash recovery sees the commit');

    // The same instance goes straight to streaming: no compose request at all.
    gcs.requests.length = 0;
    const second = await fresh.assembleParts('bkt', 'dir/key', 'UP', [3, 1, 2]);
    const secondTemp = identityOf(second).temp ?? '';
    assert.match(secondTemp, /^pfx\/\.tmp\/[0-9a-f-]{36}$/);
    assertStreamed(gcs.requests, secondTemp, identityOf(second).token); // and so no compose
    // Staged but never committed (a crash before commit): not committed, and the temp goes.
    assert.equal(await fresh.stagedWriteCommitted(second.recoveryRef ?? ''), false);
    assert.equal(gcs.objects.has(secondTemp), false, 'the temp is deleted');

    // A single part is still a server-side copy.
    gcs.requests.length = 0;
    const single = await fresh.assembleParts('bkt', 'dir/key', 'UP', [2]);
    assert.deepEqual(gcs.requests.map((r) => r.op), ['copy']);
    await single.discard();
  });

  it('streaming fallback: a missing part fails with StorageNotFoundError and leaves no temp', async () => {
    const fresh = gcpAt(gcs.url, { bucket: 'rec-bucket', prefix: PREFIX });
    withContentParts(3);
    gcs.objects.delete(part(2));
    gcs.composeNotImplemented = true;
    await assert.rejects(fresh.assembleParts('bkt', 'dir/key', 'UP', [1, 2, 3]), StorageNotFoundError);
    assert.deepEqual(gcs.requests.filter((r) => r.op === 'get').map((r) => r.object), [part(1), part(2)], 'stops at the missing part');
    assert.equal(gcs.requests.filter((r) => r.op === 'upload').length, 0, 'the upload never completed');
    assert.deepEqual([...gcs.objects.keys()].sort(), [part(1), part(3)], 'no temp left');
  });

  it('a compose answering 500/503, or a GCS-style 501, fails without falling back to streaming', async () => {
    const fresh = gcpAt(gcs.url, { bucket: 'rec-bucket', prefix: PREFIX });
    withParts(2);
    gcs.failNext.push(500, 503, 500, 503, 503);
    await assert.rejects(fresh.assembleParts('bkt', 'dir/key', 'UP', [1, 2]), (e) => e instanceof BackendUnavailableError && !e.throttled);
    assert.deepEqual(gcs.requests.map((r) => r.op), ['compose', 'compose', 'compose', 'compose', 'compose', 'delete'], 'retried, then the temp cleaned up; no part read or upload');

    withParts(2);
    gcs.failNext.push(501); // a JSON error body, as GCS itself would send: not "compose does not exist"
    await assert.rejects(fresh.assembleParts('bkt', 'dir/key', 'UP', [1, 2]), (e) => !(e instanceof BackendUnavailableError));
    assert.deepEqual(gcs.requests.map((r) => r.op), ['compose', 'delete']);

    withParts(2);
    const staged = await fresh.assembleParts('bkt', 'dir/key', 'UP', [1, 2]);
    assert.deepEqual(gcs.requests.map((r) => r.op), ['compose'], 'compose is still the path');
    await staged.discard();
  });

  it('full reads are checked against the MD5 in x-goog-hash (when the object has one)', async () => {
    const read = async (key: string): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const c of (await backend.getObject('bkt', key)).stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    };
    gcs.reset([
      [`${PREFIX}bkt/good`, 3],
      [`${PREFIX}bkt/corrupt`, 3],
      [`${PREFIX}bkt/composite`, 3],
    ]);
    gcs.md5s.set(`${PREFIX}bkt/good`, createHash('md5').update('aaa').digest('base64'));
    gcs.md5s.set(`${PREFIX}bkt/corrupt`, createHash('md5').update('aab').digest('base64'));
    assert.equal(await read('good'), 'aaa');
    assert.equal(await read('composite'), 'aaa');
    await assert.rejects(read('corrupt'), /MD5/);
  });

  it('deleteUploadParts lists the upload prefix and deletes each part', async () => {
    withParts(3);
    gcs.objects.set(`${PREFIX}.parts/UP2/1`, 5);
    await backend.deleteUploadParts('UP');
    assert.deepEqual(gcs.requests[0], { method: 'GET', op: 'list' });
    assert.deepEqual(
      sorted(gcs.requests.slice(1), (r) => r.object ?? ''),
      [1, 2, 3].map((n) => ({ method: 'DELETE', op: 'delete', object: part(n) })),
    );
    assert.deepEqual([...gcs.objects.keys()], [`${PREFIX}.parts/UP2/1`], 'UP2 is not under the UP/ prefix');
  });
});

// ---------------------------------------------------------------------------------------------
// Against the real server: the firebase-tools Storage emulator.
// ---------------------------------------------------------------------------------------------

describe('GcpStorage against the firebase-tools Storage emulator', () => {
  let peer: TestPeer;
  let backend: GcpStorage;
  let raw: Storage;
  let prefix: string;

  /** Every backing object name under this test's prefix. */
  async function backingNames(): Promise<string[]> {
    const [files] = await raw.bucket(GCS_TEST_BUCKET).getFiles({ prefix });
    return files.map((f) => f.name.slice(prefix.length)).sort();
  }

  before(async () => {
    peer = await startEmulator();
    const patch = await peer.namespace(uniqueNamespaceId('gcp'));
    const settings = patch.storage?.gcp;
    assert.ok(settings?.bucket !== undefined && settings.prefix !== undefined);
    prefix = settings.prefix;
    backend = new GcpStorage({ bucket: settings.bucket, project: GCS_TEST_PROJECT, prefix, credentials_file: '' });
    await backend.init();
    raw = new Storage({ projectId: GCS_TEST_PROJECT });
  });
  after(() => peer?.stop());

  it('stores objects and parts under the spec names and leaves no temp behind', async () => {
    await committed(backend.putObject('bkt', 'a/b.txt', bodyOf(Buffer.from('object'))));
    await committed(backend.putPart('bkt', 'k', 'U1', 7, bodyOf(Buffer.from('part'))));
    const dropped = await backend.putObject('bkt', 'dropped', bodyOf(Buffer.from('x')));
    await dropped.discard();
    await assert.rejects(backend.putObject('bkt', 'failed', new Readable({ read() { this.destroy(new Error('client gone')); } })), /client gone/);
    assert.deepEqual(await backingNames(), ['.parts/U1/7', 'bkt/a/b.txt']);
  });

  it('puts, overwrites, reads and deletes parts', async () => {
    const p1 = randomBytes(300 * 1024);
    await committed(backend.putPart('bkt', 'mp', 'U2', 1, bodyOf(randomBytes(10))));
    await committed(backend.putPart('bkt', 'mp', 'U2', 1, bodyOf(p1)));
    await committed(backend.putPart('bkt', 'mp', 'U2', 2, bodyOf(Buffer.from('two'))));
    assert.ok((await readAll(await backend.getPart('U2', 1))).equals(p1));
    await assert.rejects(backend.getPart('U2', 3), StorageNotFoundError);
    await backend.deleteParts('bkt', 'mp', 'U2');
    await assert.rejects(backend.getPart('U2', 1), StorageNotFoundError);
    await backend.deleteParts('bkt', 'mp', 'U2');
  });

  it('assembles a single part by copy (no compose needed) and keeps the part', async () => {
    const data = randomBytes(1024 * 1024 + 5);
    await committed(backend.putObject('bkt', 'single', bodyOf(Buffer.from('old'))));
    await committed(backend.putPart('bkt', 'single', 'U3', 4, bodyOf(data)));
    const staged = await backend.assembleParts('bkt', 'single', 'U3', [4]);
    assert.equal(staged.size, data.length);
    assert.equal((await readAll(await backend.getObject('bkt', 'single'))).toString(), 'old', 'nothing visible before commit');
    await staged.commit();
    assert.ok((await readAll(await backend.getObject('bkt', 'single'))).equals(data));
    assert.ok((await readAll(await backend.getPart('U3', 4))).equals(data));
    // A missing part fails cleanly and leaves the destination as it was.
    await assert.rejects(backend.assembleParts('bkt', 'single', 'U3', [5]), StorageNotFoundError);
    assert.ok((await readAll(await backend.getObject('bkt', 'single'))).equals(data));
    await backend.deleteUploadParts('U3');
    assert.ok(!(await backingNames()).some((n) => n.startsWith('.tmp/') || n.startsWith('.parts/U3/')));
  });

  it('assembles 3 parts (5 MiB, 5 MiB + 1, small) by streaming, the emulator having no compose; the next assembly skips compose', async (t) => {
    // A fresh instance: it has not yet learned that compose is missing.
    const assembler = new GcpStorage({ bucket: GCS_TEST_BUCKET, project: GCS_TEST_PROJECT, prefix, credentials_file: '' });
    // Every compose goes through File.request (runComposeStep); nothing else in assembly does.
    const fileRequest = t.mock.method(File.prototype, 'request');
    const composeCalls = (): number => fileRequest.mock.calls.filter((c) => (c.arguments[0] as { uri?: string }).uri === '/compose').length;
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024 + 1), randomBytes(1234)];
    for (const [i, data] of parts.entries()) await committed(assembler.putPart('bkt', 'three', 'U5', i + 1, bodyOf(data)));
    const whole = Buffer.concat(parts);

    const staged = await assembler.assembleParts('bkt', 'three', 'U5', [1, 2, 3]);
    assert.equal(composeCalls(), 1, 'compose was tried once (the emulator answered 501)');
    assert.equal(staged.size, whole.length);
    const { temp, token } = identityOf(staged);
    const [tempMeta] = await raw.bucket(GCS_TEST_BUCKET).file(temp ?? '').getMetadata();
    assert.deepEqual(tempMeta.metadata, tokenMeta(token), 'the temp carries the write token');
    assert.equal(tempMeta.contentType, 'application/octet-stream');
    await staged.commit();
    assert.equal(await assembler.stagedWriteCommitted(staged.recoveryRef ?? ''), true, 'crash recovery sees the commit');
    assert.ok((await readAll(await assembler.getObject('bkt', 'three'))).equals(whole), 'byte-exact');

    const again = await assembler.assembleParts('bkt', 'three', 'U5', [3, 1]);
    assert.equal(composeCalls(), 1, 'the second assembly did not try compose');
    assert.equal(await assembler.stagedWriteCommitted(again.recoveryRef ?? ''), false, 'staged only: not committed, temp removed');
    await assert.rejects(assembler.assembleParts('bkt', 'three', 'U5', [1, 4]), StorageNotFoundError);
    await assembler.deleteUploadParts('U5');
    assert.ok((await readAll(await assembler.getObject('bkt', 'three'))).equals(whole), 'failed assemblies left the object alone');
    assert.ok(!(await backingNames()).some((n) => n.startsWith('.tmp/') || n.startsWith('.parts/U5/')), 'no temp or part left');
  });

  it('reads ranges, including a start past the end (RangeError), and opens before resolving', async () => {
    const data = randomBytes(5000);
    await committed(backend.putObject('bkt', 'r', bodyOf(data)));
    assert.ok((await readAll(await backend.getObject('bkt', 'r', { start: 4990, end: 9999 }))).equals(data.subarray(4990)));
    assert.ok((await readAll(await backend.getObject('bkt', 'r', { start: 0, end: 4999 }))).equals(data));
    await assert.rejects(backend.getObject('bkt', 'r', { start: 5000, end: 5000 }), RangeError);
    await committed(backend.putObject('bkt', 'empty', bodyOf(Buffer.alloc(0))));
    await assert.rejects(backend.getObject('bkt', 'empty', { start: 0, end: 0 }), RangeError);
    assert.equal((await readAll(await backend.getObject('bkt', 'empty'))).length, 0);
    assert.equal(await backend.objectExists('bkt', 'empty'), true);
  });

  it('staged writes carry a short gcs1 recoveryRef, and the copy into place carries the write token', async () => {
    const customMetadataOf = async (name: string): Promise<Record<string, unknown> | undefined> =>
      (await raw.bucket(GCS_TEST_BUCKET).file(name).getMetadata())[0].metadata as Record<string, unknown> | undefined;
    const put = await backend.putObject('bkt', 'tok', bodyOf(Buffer.from('token')));
    const part = await backend.putPart('bkt', 'tokmp', 'U4', 1, bodyOf(Buffer.from('part with token')));
    for (const [staged, name] of [[put, 'bkt/tok'], [part, '.parts/U4/1']] as const) {
      assert.match(staged.recoveryRef ?? '', /^gcs1:\{/, 'versioned');
      assert.ok((staged.recoveryRef ?? '').length < 100 + 2 * prefix.length, `short: ${staged.recoveryRef}`);
      const identity = identityOf(staged);
      assert.equal(identity.name, prefix + name);
      assert.match(identity.temp ?? '', new RegExp(`^${prefix}\\.tmp/[0-9a-f-]{36}$`));
      assert.deepEqual(await customMetadataOf(identity.temp ?? ''), tokenMeta(identity.token), 'the upload set the token on the temp');
      await staged.commit();
      assert.equal((await customMetadataOf(identity.name))?.['bleepstore-write'], identity.token, 'the emulator copy kept custom metadata');
      assert.equal(await backend.stagedWriteCommitted(staged.recoveryRef ?? ''), true);
    }
    assert.notEqual(identityOf(put).token, identityOf(part).token, 'a token per write');

    // A single-part assembly is a copy of the part, which carries the part's own token: the copy
    // into the temp must replace it with the assembly's.
    const assembled = await backend.assembleParts('bkt', 'tokmp', 'U4', [1]);
    assert.equal(await backend.stagedWriteCommitted(assembled.recoveryRef ?? ''), false, 'not committed yet');
    const again = await backend.assembleParts('bkt', 'tokmp', 'U4', [1]);
    await again.commit();
    assert.equal(await backend.stagedWriteCommitted(again.recoveryRef ?? ''), true);
    assert.equal(await backend.stagedWriteCommitted(part.recoveryRef ?? ''), true, 'the part itself is untouched');
    assert.ok((await readAll(await backend.getObject('bkt', 'tokmp'))).equals(Buffer.from('part with token')));
    await backend.deleteUploadParts('U4');
  });

  it('stagedWriteCommitted: staged only → false and the temp deleted; superseded → false; foreign or damaged refs → false', async () => {
    await committed(backend.putObject('bkt', 'rec', bodyOf(Buffer.from('old'))));
    const stagedOnly = await backend.putObject('bkt', 'rec', bodyOf(Buffer.from('never committed')));
    assert.ok((await backingNames()).includes((identityOf(stagedOnly).temp ?? '').slice(prefix.length)));
    assert.equal(await backend.stagedWriteCommitted(stagedOnly.recoveryRef ?? ''), false);
    assert.ok(!(await backingNames()).some((n) => n.startsWith('.tmp/')), 'the temp is gone');
    assert.equal((await readAll(await backend.getObject('bkt', 'rec'))).toString(), 'old');
    assert.equal(await backend.stagedWriteCommitted(stagedOnly.recoveryRef ?? ''), false, 'asking again (temp already gone) is fine');

    const first = await backend.putObject('bkt', 'rec', bodyOf(Buffer.from('first')));
    await first.commit();
    await committed(backend.putObject('bkt', 'rec', bodyOf(Buffer.from('first'))));
    assert.equal(await backend.stagedWriteCommitted(first.recoveryRef ?? ''), false, 'the same bytes from a later write are not this write');

    assert.equal(await backend.stagedWriteCommitted('aws1:{"k":"x","t":"y"}'), false);
    for (const damaged of ['gcs1:', 'gcs1:{', 'gcs1:null', 'gcs1:[]', 'gcs1:{"k":"","t":"x"}', 'gcs1:{"k":"a","t":7}', 'gcs1:{"k":"a","t":"b","s":""}']) {
      assert.equal(await backend.stagedWriteCommitted(damaged), false, damaged);
    }
    // A ref naming a user object as its temp: never deleted.
    const victim = `${prefix}bkt/rec`;
    assert.equal(await backend.stagedWriteCommitted(encodeRecoveryRef({ name: `${prefix}bkt/none`, token: 'x', temp: victim })), false);
    assert.equal((await readAll(await backend.getObject('bkt', 'rec'))).toString(), 'first');
  });

  it(`maps names over ${MAX_GCS_NAME_BYTES} UTF-8 bytes (or with CR/LF) to {prefix}.long-keys/{bucket}/{sha256}`, async () => {
    const sha = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
    const fits = 'f'.repeat(MAX_GCS_NAME_BYTES - Buffer.byteLength(`${prefix}lk/`));
    const tooLong = `${fits}g`;
    const wide = 'é'.repeat(600); // 600 characters, 1200 bytes
    const newline = 'line\nbreak';
    const keys = [fits, tooLong, wide, newline];
    for (const [i, key] of keys.entries()) await committed(backend.putObject('lk', key, bodyOf(Buffer.from(`body ${i}`))));
    const names = await backingNames();
    assert.ok(names.includes(`lk/${fits}`), 'a name of exactly the limit stays as it is');
    for (const key of [tooLong, wide, newline]) assert.ok(names.includes(`.long-keys/lk/${sha(key)}`), `${key.slice(0, 10)}… is hashed`);
    for (const [i, key] of keys.entries()) {
      assert.equal((await readAll(await backend.getObject('lk', key))).toString(), `body ${i}`);
      assert.equal(await backend.objectExists('lk', key), true);
    }
    const staged = await backend.putObject('lk', tooLong, bodyOf(Buffer.from('v2')));
    assert.equal(identityOf(staged).name, `${prefix}.long-keys/lk/${sha(tooLong)}`, 'the ref names the backing object, not the key');
    await staged.commit();
    assert.equal(await backend.stagedWriteCommitted(staged.recoveryRef ?? ''), true);
    await backend.deleteObject('lk', wide);
    assert.equal(await backend.objectExists('lk', wide), false);
    await backend.deleteBucket('lk');
    assert.deepEqual((await backingNames()).filter((n) => n.startsWith('lk/') || n.startsWith('.long-keys/lk/')), []);
  });

  it('rejects unsafe bucket names and upload ids before any request', async () => {
    await assert.rejects(backend.getObject('.parts', 'x'), /unsafe bucket name/);
    await assert.rejects(backend.deleteUploadParts('a/b'), /unsafe upload id/);
    await assert.rejects(backend.getPart('U', 0), /invalid part number/);
  });

  it('init fails with the bucket name when the server cannot be reached', async () => {
    const closed = gcpAt('http://127.0.0.1:9', { bucket: 'nowhere', prefix: '' });
    await assert.rejects(closed.init(), /storage\.gcp: cannot list bucket "nowhere"/);
  });
});
