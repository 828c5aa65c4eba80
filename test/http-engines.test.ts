// One suite, run against both HTTP engines over real sockets on 127.0.0.1.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUwsEngine } from '../src/http/uws.js';
import { createNodeEngine } from '../src/http/node.js';
import { createHttpEngine } from '../src/http/engine.js';
import {
  ClientAbortError,
  type HttpEngine,
  type HttpRequest,
  type HttpResponse,
  type RequestHandler,
} from '../src/http/types.js';

const MiB = 1024 * 1024;
const TEST = { timeout: 60_000 };
const BIG = crypto.randomBytes(64 * MiB);

const md5 = (data: Buffer): string => crypto.createHash('md5').update(data).digest('hex');
const json = (value: unknown, status = 200): HttpResponse => ({
  status,
  headers: { 'Content-Type': 'application/json' },
  body: Buffer.from(JSON.stringify(value)),
});

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Yields `size` bytes of BIG in slices of `step`. */
function* slices(size: number, step = MiB): Generator<Buffer> {
  for (let offset = 0; offset < size; offset += step) yield BIG.subarray(offset, Math.min(size, offset + step));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function md5OfStream(stream: Readable): Promise<string> {
  const hash = crypto.createHash('md5');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A raw TCP client, for what node's http client hides (pipelining, exact bytes, aborts). */
class RawClient {
  text = '';
  ended = false;
  private readonly waiters = new Set<() => void>();
  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      this.text += data;
      this.wake();
    });
    const onEnd = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', () => {}); // resets show up as 'close'
  }
  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawClient(socket);
  }
  write(data: string | Buffer): void {
    this.socket.write(data);
  }
  /** Resolves once `done()` holds; rejects if the connection ends first. */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) {
          this.waiters.delete(check);
          resolve();
        } else if (this.ended) {
          this.waiters.delete(check);
          reject(new Error(`connection ended; received ${JSON.stringify(this.text.slice(0, 300))}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }
  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
  close(): void {
    this.socket.destroy();
  }
}

interface RawResponse {
  status: number;
  head: string;
  headers: Map<string, string[]>;
  body: string;
}

/** Parses complete responses from raw text; `headOnly[i]` marks answers to HEAD. */
function parseResponses(text: string, headOnly: boolean[] = []): RawResponse[] {
  const responses: RawResponse[] = [];
  let position = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', position);
    if (headEnd < 0) break;
    const head = text.slice(position, headEnd);
    const [statusLine = '', ...lines] = head.split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers = new Map<string, string[]>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    const noBody = (headOnly[responses.length] ?? false) || status === 204 || status === 304;
    const length = noBody ? 0 : Number(headers.get('content-length')?.[0] ?? 0);
    if (text.length < headEnd + 4 + length) break;
    responses.push({ status, head, headers, body: text.slice(headEnd + 4, headEnd + 4 + length) });
    position = headEnd + 4 + length;
  }
  return responses;
}

/** Probes a route fills in so a test can follow what the handler saw. */
interface AbortReport {
  error: unknown;
  aborted: boolean;
  reason: unknown;
  bytes: number;
}

for (const engineName of ['uws', 'node'] as const) {
  describe(`${engineName} engine`, () => {
    let engine: HttpEngine;
    let port: number;
    let agent: http.Agent;
    let tmp: string;
    const logs: string[] = [];
    let handlerStarted = deferred<void>();
    let abortReport = deferred<AbortReport>();
    let releaseSlow = deferred<void>();

    async function describeRequest(req: HttpRequest): Promise<HttpResponse> {
      const body = await readAll(req.body);
      const { method, rawPath, rawQuery, headers, remoteAddress } = req;
      return json({ method, rawPath, rawQuery, headers, remoteAddress, bodyLength: body.length });
    }

    const routes: Record<string, (req: HttpRequest) => Promise<HttpResponse>> = {
      b: describeRequest,
      async io(req) {
        await sleep(2); // an answer that waits for real I/O, not just microtasks
        return describeRequest(req);
      },
      async upload(req) {
        const file = path.join(tmp, req.rawPath.split('/')[2] ?? 'unnamed');
        await pipeline(req.body, fs.createWriteStream(file));
        const written = await fsp.readFile(file);
        return json({ md5: md5(written), size: written.length, headers: req.headers });
      },
      async slow(req) {
        // A slow consumer: 5 ms pause per 256 KiB read, recording how much the engine buffered.
        const hash = crypto.createHash('md5');
        let maxBuffered = 0;
        let sincePause = 0;
        for await (const chunk of req.body) {
          hash.update(chunk as Buffer);
          // The iterator's read() takes everything buffered at once, so a chunk shows the backlog.
          maxBuffered = Math.max(maxBuffered, (chunk as Buffer).length + req.body.readableLength);
          sincePause += (chunk as Buffer).length;
          if (sincePause >= 256 * 1024) {
            sincePause = 0;
            await sleep(5);
          }
        }
        return json({ md5: hash.digest('hex'), maxBuffered });
      },
      async lazy(req) {
        await sleep(50); // let the whole body arrive before reading any of it
        const body = await readAll(req.body);
        return json({ size: body.length, md5: md5(body) });
      },
      async download(req) {
        const params = new URLSearchParams(req.rawQuery);
        const size = Number(params.get('size'));
        const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
        if (params.get('chunked') === null) headers['Content-Length'] = String(size);
        return { status: 200, headers, body: Readable.from(slices(size, 256 * 1024 + 17)) };
      },
      async file(req) {
        const file = path.join(tmp, req.rawPath.split('/')[2] ?? '');
        const { size } = await fsp.stat(file);
        return { status: 200, headers: { 'Content-Length': String(size) }, body: fs.createReadStream(file) };
      },
      async broken() {
        // Announces 10 MiB, sends 1 MiB, then fails.
        async function* failing(): AsyncGenerator<Buffer> {
          yield BIG.subarray(0, MiB);
          await sleep(1);
          throw new Error('disk on fire');
        }
        return { status: 200, headers: { 'Content-Length': String(10 * MiB) }, body: Readable.from(failing()) };
      },
      async head() {
        return {
          status: 200,
          headers: { 'Content-Length': '12345', ETag: '"abc"', Date: 'Thu, 01 Jan 2026 00:00:00 GMT' },
        };
      },
      async hello() {
        return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: Buffer.from('hello') };
      },
      async empty() {
        return { status: 204, headers: { 'x-amz-request-id': 'r1' } };
      },
      async 'throw-async'() {
        throw new Error('handler bug');
      },
      async 'bad-header'() {
        return { status: 200, headers: { 'x-bad': 'a\r\nInjected: yes' }, body: Buffer.from('x') };
      },
      async early() {
        return {
          status: 403,
          headers: { 'Content-Type': 'application/xml' },
          body: Buffer.from('<Error><Code>AccessDenied</Code></Error>'),
        };
      },
      async abort(req) {
        const report: AbortReport = { error: undefined, aborted: false, reason: undefined, bytes: 0 };
        try {
          await pipeline(
            req.body,
            new Writable({
              write(chunk: Buffer, _encoding, callback) {
                report.bytes += chunk.length;
                if (report.bytes >= 256 * 1024) handlerStarted.resolve();
                callback();
              },
            }),
          );
        } catch (err) {
          report.error = err;
        }
        if (!req.signal.aborted) await once(req.signal, 'abort');
        report.aborted = req.signal.aborted;
        report.reason = req.signal.reason;
        abortReport.resolve(report);
        // Answering a gone client must be harmless (uWS: never touch res after abort).
        return json({ late: true });
      },
      async hang(req) {
        handlerStarted.resolve();
        await once(req.signal, 'abort');
        abortReport.resolve({ error: undefined, aborted: true, reason: req.signal.reason, bytes: 0 });
        return json({ late: true });
      },
      async wait() {
        handlerStarted.resolve();
        await releaseSlow.promise;
        return json({ waited: true });
      },
    };

    // Deliberately not async: a synchronous throw must be survived too.
    const handler: RequestHandler = (req) => {
      const name = req.rawPath.split('/')[1] ?? '';
      if (name === 'throw-sync') throw new Error('synchronous handler bug');
      const route = routes[name];
      return route ? route(req) : Promise.resolve(json({ missing: name }, 404));
    };

    const makeEngine = (): HttpEngine =>
      engineName === 'uws'
        ? createUwsEngine(handler, (msg) => logs.push(msg))
        : createNodeEngine(handler, (msg) => logs.push(msg));

    interface SendOptions {
      method?: string;
      headers?: http.OutgoingHttpHeaders;
      body?: Buffer | Iterable<Buffer>;
    }

    function open(target: string, options: SendOptions = {}): Promise<IncomingMessage> {
      return new Promise((resolve, reject) => {
        const headers = { ...options.headers };
        if (Buffer.isBuffer(options.body)) headers['Content-Length'] = options.body.length;
        const req = http.request(
          { host: '127.0.0.1', port, agent, method: options.method ?? 'GET', path: target, headers },
          resolve,
        );
        req.on('error', reject);
        if (options.body === undefined || Buffer.isBuffer(options.body)) req.end(options.body);
        else pipeline(Readable.from(options.body), req).catch(reject);
      });
    }

    async function send(target: string, options: SendOptions = {}): Promise<{ res: IncomingMessage; body: Buffer }> {
      const res = await open(target, options);
      return { res, body: await readAll(res) };
    }

    async function sendJson(target: string, options: SendOptions = {}): Promise<Record<string, unknown>> {
      const { res, body } = await send(target, options);
      assert.equal(res.statusCode, 200, body.toString());
      return JSON.parse(body.toString()) as Record<string, unknown>;
    }

    before(async () => {
      tmp = await fsp.mkdtemp(path.join(os.tmpdir(), `bleepstore-http-${engineName}-`));
      engine = makeEngine();
      assert.equal(engine.name, engineName);
      port = await engine.listen({ host: '127.0.0.1', port: 0 });
      agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    });

    after(async () => {
      agent.destroy();
      await engine.close(1000);
      await fsp.rm(tmp, { recursive: true, force: true });
    });

    it('passes method, raw encoded path, raw query and remote address through', TEST, async () => {
      const info = await sendJson('/b/a%2Fb%20c?x=1&y', { method: 'DELETE' });
      assert.equal(info.method, 'DELETE');
      assert.equal(info.rawPath, '/b/a%2Fb%20c');
      assert.equal(info.rawQuery, 'x=1&y');
      assert.equal(info.remoteAddress, '127.0.0.1');
      assert.equal((await sendJson('/b/plain')).rawQuery, '');
      assert.equal((await sendJson('/b/bare?')).rawQuery, '');
      assert.equal((await sendJson('/b/dots/../%2e?uploads=')).rawPath, '/b/dots/../%2e');
    });

    it('lowercases header names and joins duplicates with a comma', TEST, async () => {
      const info = await sendJson('/b/h', {
        headers: { 'X-Amz-Meta-Dup': ['one', 'two'], 'X-Mixed-Case': 'Value', 'x-amz-meta-utf8': 'h\u00c3\u00a9llo' },
      });
      const headers = info.headers as Record<string, string>;
      assert.equal(headers['x-amz-meta-dup'], 'one,two');
      assert.equal(headers['x-mixed-case'], 'Value');
      // UTF-8 bytes on the wire reach the S3 layer as latin1 chars, one per byte, on both engines.
      assert.equal(headers['x-amz-meta-utf8'], 'h\u00c3\u00a9llo');
      assert.equal(headers.host, `127.0.0.1:${port}`);
    });

    for (const size of [0, 1024, 64 * MiB]) {
      it(`streams a ${size}-byte upload to a file intact`, TEST, async () => {
        const data = BIG.subarray(0, size);
        const info = await sendJson(`/upload/cl-${size}`, { method: 'PUT', body: data });
        assert.equal(info.size, size);
        assert.equal(info.md5, md5(data));
      });
    }

    it('de-chunks a Transfer-Encoding: chunked request body', TEST, async () => {
      const size = 5 * MiB + 333;
      const info = await sendJson('/upload/chunked', { method: 'PUT', body: slices(size, 64 * 1024 + 7) });
      assert.equal((info.headers as Record<string, string>)['transfer-encoding'], 'chunked');
      assert.equal(info.size, size);
      assert.equal(info.md5, md5(BIG.subarray(0, size)));
    });

    it('de-chunks raw chunked framing with upper-case hex and split writes', TEST, async () => {
      const client = await RawClient.connect(port);
      const payload = BIG.subarray(0, 300_000);
      client.write(`PUT /upload/raw-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (let offset = 0; offset < payload.length; offset += 70_000) {
        const part = payload.subarray(offset, offset + 70_000);
        const frame = Buffer.concat([Buffer.from(`${part.length.toString(16).toUpperCase()}\r\n`), part, Buffer.from('\r\n')]);
        client.write(frame.subarray(0, 5));
        client.write(frame.subarray(5));
      }
      client.write('0\r\n\r\n');
      await client.until(() => parseResponses(client.text).length === 1);
      const [response] = parseResponses(client.text);
      client.close();
      assert.equal(response?.status, 200);
      assert.equal((JSON.parse(response?.body ?? '{}') as { md5: string }).md5, md5(payload));
    });

    it('keeps a keep-alive connection usable when a body ends while the engine is paused', TEST, async () => {
      // Many small chunks in one write: the engine pauses midway, but the rest of what it already
      // read, the last chunk included, still arrives. The socket must not stay paused after that.
      const payload = BIG.subarray(0, 400 * 1024);
      const frames: Buffer[] = [Buffer.from('PUT /lazy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')];
      for (let offset = 0; offset < payload.length; offset += 1024) {
        frames.push(Buffer.from('400\r\n'), payload.subarray(offset, offset + 1024), Buffer.from('\r\n'));
      }
      frames.push(Buffer.from('0\r\n\r\n'));
      const client = await RawClient.connect(port);
      try {
        client.write(Buffer.concat(frames));
        await client.until(() => parseResponses(client.text).length === 1);
        client.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
        await client.until(() => parseResponses(client.text).length === 2);
      } finally {
        client.close();
      }
      const [upload, hello] = parseResponses(client.text);
      assert.equal((JSON.parse(upload?.body ?? '{}') as { md5: string }).md5, md5(payload));
      assert.equal(hello?.body, 'hello');
    });

    it('answers Expect: 100-continue before the body is sent', TEST, async () => {
      const client = await RawClient.connect(port);
      try {
        client.write('PUT /upload/expect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
        await client.until(() => client.text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
        client.write('hello');
        await client.until(() => parseResponses(client.text.slice(25)).length === 1);
      } finally {
        client.close();
      }
      const [response] = parseResponses(client.text.slice(25));
      assert.equal((JSON.parse(response?.body ?? '{}') as { md5: string }).md5, md5(Buffer.from('hello')));
    });

    it('applies backpressure to a slow consumer and delivers the body intact', TEST, async () => {
      const data = BIG.subarray(0, 32 * MiB);
      const info = await sendJson('/slow', { method: 'PUT', body: data });
      assert.equal(info.md5, md5(data));
      // Without backpressure the engine would queue nearly all 32 MiB in the body stream.
      assert.ok((info.maxBuffered as number) <= 2 * MiB, `engine buffered ${info.maxBuffered} bytes`);
    });

    it('streams a 64 MiB response with Content-Length intact', TEST, async () => {
      const res = await open(`/download?size=${64 * MiB}`);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-length'], String(64 * MiB));
      assert.equal(await md5OfStream(res), md5(BIG));
    });

    it('streams a file response and a chunked response (no Content-Length)', TEST, async () => {
      await sendJson('/upload/for-download', { method: 'PUT', body: BIG.subarray(0, 20 * MiB) });
      const fileRes = await open('/file/for-download');
      assert.equal(fileRes.headers['content-length'], String(20 * MiB));
      assert.equal(await md5OfStream(fileRes), md5(BIG.subarray(0, 20 * MiB)));
      const chunkedRes = await open(`/download?size=${3 * MiB + 5}&chunked`);
      assert.equal(chunkedRes.headers['transfer-encoding'], 'chunked');
      assert.equal(await md5OfStream(chunkedRes), md5(BIG.subarray(0, 3 * MiB + 5)));
    });

    it('drops the connection when a response stream fails midway, then serves on', TEST, async () => {
      const res = await open('/broken');
      assert.equal(res.statusCode, 200);
      await assert.rejects(readAll(res));
      assert.equal((await send('/hello')).body.toString(), 'hello');
    });

    it('answers HEAD with Content-Length and no body, then serves the same socket', TEST, async () => {
      const client = await RawClient.connect(port);
      client.write('HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.until(() => client.text.includes('\r\n\r\n'));
      client.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.until(() => parseResponses(client.text, [true]).length === 2);
      const [head, get] = parseResponses(client.text, [true]);
      const afterHead = client.text.slice(client.text.indexOf('\r\n\r\n') + 4);
      client.close();
      assert.equal(head?.status, 200);
      assert.deepEqual(head?.headers.get('content-length'), ['12345']);
      assert.deepEqual(head?.headers.get('etag'), ['"abc"']);
      assert.equal(head?.headers.get('date')?.length, 1, 'exactly one Date header');
      assert.ok(afterHead.startsWith('HTTP/1.1 200'), 'no body bytes after the HEAD answer');
      assert.equal(get?.body, 'hello');
    });

    it('answers HEAD on a route with a Buffer body with its length but no bytes', TEST, async () => {
      const { res, body } = await send('/hello', { method: 'HEAD' });
      assert.equal(res.headers['content-length'], '5');
      assert.equal(body.length, 0);
      assert.equal((await send('/hello')).body.toString(), 'hello');
    });

    it('answers 204 without Content-Length and keeps the connection', TEST, async () => {
      const client = await RawClient.connect(port);
      client.write('DELETE /empty HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.until(() => parseResponses(client.text).length === 1);
      client.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.until(() => parseResponses(client.text).length === 2);
      const [empty, hello] = parseResponses(client.text);
      client.close();
      assert.equal(empty?.status, 204);
      assert.equal(empty?.headers.has('content-length'), false);
      assert.deepEqual(empty?.headers.get('x-amz-request-id'), ['r1']);
      assert.equal(hello?.body, 'hello');
    });

    for (const route of ['throw-sync', 'throw-async', 'bad-header']) {
      it(`answers 500 InternalError when the handler fails (${route}) and keeps serving`, TEST, async () => {
        const { res, body } = await send(`/${route}`);
        assert.equal(res.statusCode, 500);
        assert.match(body.toString(), /^<\?xml version="1.0" encoding="UTF-8"\?><Error><Code>InternalError<\/Code>/);
        assert.equal(res.headers.injected, undefined);
        assert.equal((await send('/hello')).body.toString(), 'hello');
        assert.ok(logs.some((line) => line.includes('internal error')));
      });
    }

    it('errors the body with ClientAbortError and aborts the signal when the client drops mid-upload', TEST, async () => {
      handlerStarted = deferred();
      abortReport = deferred();
      const client = await RawClient.connect(port);
      client.write(`PUT /abort HTTP/1.1\r\nHost: x\r\nContent-Length: ${16 * MiB}\r\n\r\n`);
      client.write(BIG.subarray(0, MiB));
      await handlerStarted.promise;
      client.close();
      const report = await abortReport.promise;
      assert.ok(report.error instanceof ClientAbortError, `body error was ${String(report.error)}`);
      assert.ok(report.bytes >= 256 * 1024 && report.bytes < 16 * MiB);
      assert.equal(report.aborted, true);
      assert.ok(report.reason instanceof ClientAbortError);
      assert.equal((await send('/hello')).body.toString(), 'hello');
    });

    it('aborts the signal when the client leaves while the answer is pending', TEST, async () => {
      handlerStarted = deferred();
      abortReport = deferred();
      const client = await RawClient.connect(port);
      client.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
      await handlerStarted.promise;
      client.close();
      const report = await abortReport.promise;
      assert.equal(report.aborted, true);
      assert.equal((await send('/hello')).body.toString(), 'hello');
    });

    it('sends an early 4xx during an upload and closes that connection', TEST, async () => {
      const client = await RawClient.connect(port);
      client.write(`PUT /early HTTP/1.1\r\nHost: x\r\nContent-Length: ${8 * MiB}\r\n\r\n`);
      client.write(BIG.subarray(0, 8 * 1024));
      await client.until(() => client.ended);
      const [response] = parseResponses(client.text);
      assert.equal(response?.status, 403);
      assert.equal(response?.body, '<Error><Code>AccessDenied</Code></Error>');
      assert.deepEqual(response?.headers.get('connection'), ['close']);
      assert.equal((await send('/hello')).body.toString(), 'hello');
    });

    it(
      'answers pipelined requests in order',
      // uWS 20.30 closes a connection that sends a request while an answer waiting on I/O is pending
      // (answers settled within the same microtask run count as synchronous and do pipeline).
      { ...TEST, todo: engineName === 'uws' ? 'uWS 20.30 cannot pipeline answers that wait on I/O' : false },
      async () => {
        const client = await RawClient.connect(port);
        client.write(
          'GET /io/one HTTP/1.1\r\nHost: x\r\n\r\n' +
            'PUT /io/two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
            'GET /io/three HTTP/1.1\r\nHost: x\r\n\r\n',
        );
        try {
          await client.until(() => parseResponses(client.text).length === 3);
        } finally {
          client.close();
        }
        const bodies = parseResponses(client.text).map((r) => JSON.parse(r.body) as { rawPath: string; bodyLength: number });
        assert.deepEqual(
          bodies.map((b) => [b.rawPath, b.bodyLength]),
          [['/io/one', 0], ['/io/two', 3], ['/io/three', 0]],
        );
      },
    );

    it('serves many keep-alive requests on one socket', TEST, async () => {
      const client = await RawClient.connect(port);
      for (let i = 1; i <= 50; i++) {
        client.write(`GET /hello HTTP/1.1\r\nHost: x\r\n\r\n`);
        await client.until(() => parseResponses(client.text).length === i);
      }
      client.close();
      assert.ok(parseResponses(client.text).every((r) => r.body === 'hello'));
    });

    it('close() waits for in-flight requests, then resolves and stops listening', TEST, async () => {
      const own = makeEngine();
      const ownPort = await own.listen({ host: '127.0.0.1', port: 0 });
      const ownAgent = new http.Agent({ keepAlive: true });
      try {
        // An idle keep-alive connection must not hold close() up.
        const idle = await new Promise<IncomingMessage>((resolve, reject) =>
          http.get({ host: '127.0.0.1', port: ownPort, path: '/hello', agent: ownAgent }, resolve).on('error', reject),
        );
        assert.equal((await readAll(idle)).toString(), 'hello');

        handlerStarted = deferred();
        releaseSlow = deferred();
        const inFlight = new Promise<IncomingMessage>((resolve, reject) =>
          http.get({ host: '127.0.0.1', port: ownPort, path: '/wait' }, resolve).on('error', reject),
        );
        await handlerStarted.promise;
        let closed = false;
        const closing = own.close(30_000).then(() => (closed = true));
        await sleep(50);
        assert.equal(closed, false, 'close() waits for the in-flight request');
        releaseSlow.resolve();
        const res = await inFlight;
        assert.equal(res.statusCode, 200);
        assert.deepEqual(JSON.parse((await readAll(res)).toString()), { waited: true });
        await closing;
      } finally {
        ownAgent.destroy();
      }
      const refused = net.connect(ownPort, '127.0.0.1');
      const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      assert.equal(error.code, 'ECONNREFUSED');
    });

    it('close() called as the last answer is produced still delivers that answer', TEST, async () => {
      const own = makeEngine();
      const ownPort = await own.listen({ host: '127.0.0.1', port: 0 });
      handlerStarted = deferred();
      releaseSlow = deferred();
      const answer = new Promise<IncomingMessage>((resolve, reject) =>
        http.get({ host: '127.0.0.1', port: ownPort, path: '/wait', agent: false }, resolve).on('error', reject),
      );
      await handlerStarted.promise;
      // No turn of the event loop between these: the answer is written and close() proceeds at once.
      const closing = own.close(30_000);
      releaseSlow.resolve();
      const res = await answer;
      assert.deepEqual(JSON.parse((await readAll(res)).toString()), { waited: true });
      await closing;
    });

    it('close() releases the port for a new listener', TEST, async () => {
      const own = makeEngine();
      const ownPort = await own.listen({ host: '127.0.0.1', port: 0 });
      await own.close(100);
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(ownPort, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      // A second engine can listen there too.
      const again = makeEngine();
      assert.equal(await again.listen({ host: '127.0.0.1', port: ownPort }), ownPort);
      await again.close(100);
    });
  });
}

describe('createHttpEngine', () => {
  const noop: RequestHandler = async () => ({ status: 200, headers: {} });

  it('uses uWS natively on Node 20 when asked for it', TEST, async () => {
    const logs: string[] = [];
    const engine = await createHttpEngine('uws', noop, (msg) => logs.push(msg));
    assert.equal(process.versions.modules, '115', 'this suite expects Node 20');
    assert.equal(engine.name, 'uws');
    assert.deepEqual(logs, []);
    await engine.listen({ host: '127.0.0.1', port: 0 });
    await engine.close(100);
  });

  it('uses node:http when asked for it, silently', TEST, async () => {
    const logs: string[] = [];
    const engine = await createHttpEngine('node', noop, (msg) => logs.push(msg));
    assert.equal(engine.name, 'node');
    assert.deepEqual(logs, []);
  });

  it('falls back to node:http with one log line when UWS_USE_FALLBACK=1', TEST, async () => {
    const logs: string[] = [];
    const saved = process.env.UWS_USE_FALLBACK;
    process.env.UWS_USE_FALLBACK = '1';
    try {
      const engine = await createHttpEngine('uws', noop, (msg) => logs.push(msg));
      assert.equal(engine.name, 'node');
    } finally {
      if (saved === undefined) delete process.env.UWS_USE_FALLBACK;
      else process.env.UWS_USE_FALLBACK = saved;
    }
    assert.deepEqual(logs, [
      'uWebSockets.js native binding unavailable (UWS_USE_FALLBACK is set); using the node:http engine',
    ]);
  });
});
