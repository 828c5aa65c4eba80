// The "ceiling" for the load benchmark: a trivial static server on the same HTTP engine as
// BleepStore (uWS or node:http). It does no auth, no metadata, no disk, and answers every
// request the suite sends with the cheapest well-formed reply:
//   PUT            drains the body, 200 + ETag (remembers the size per path; parts add up per upload)
//   GET            zeros: as many bytes as the path last stored (4 KiB by default)
//   GET ?list-type a canned ListBucketResult of max-keys entries (Contents, or CommonPrefixes
//                  when a delimiter is asked for), always truncated, with a continuation token
//   HEAD           200 + Content-Length of the stored size
//   DELETE         204
//   POST ?uploads / ?uploadId / ?delete   canned Initiate / Complete / Delete results
// BleepStore's figures divided by these show what the S3 work costs, and that the generator can
// drive far more than BleepStore needs.
//
//   node dist/bench/ceiling.js --engine uws|node [--port N] [--exit-with-stdin]
// prints "Ceiling (ENGINE) listening on 127.0.0.1:PORT" once it accepts connections.
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';

export type CeilingEngine = 'uws' | 'node';

const SMALL_BODY_SIZE = 4096;
const ZEROS = Buffer.alloc(1024 * 1024);
const ETAG = '"d41d8cd98f00b204e9800998ecf8427e"';
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export interface CeilingServer {
  port: number;
  close(): Promise<void>;
}

interface Answer {
  status: string;
  headers: Record<string, string>;
  /** undefined: a body of `zeros` bytes of zeros instead. */
  body?: Buffer;
  zeros?: number;
}

/** The engine-neutral part: what to answer, given the request line and the body's size. */
class CeilingState {
  private readonly sizes = new Map<string, number>();
  private readonly uploads = new Map<string, number>();
  private readonly listPages = new Map<string, Buffer>();

  answer(method: string, path: string, query: URLSearchParams, bodySize: number): Answer {
    const xml = (text: string): Answer => ({ status: '200 OK', headers: { 'Content-Type': 'application/xml' }, body: Buffer.from(XML_HEAD + text) });
    switch (method) {
      case 'PUT':
        if (query.has('partNumber')) this.uploads.set(path, (this.uploads.get(path) ?? 0) + bodySize);
        else this.sizes.set(path, bodySize);
        return { status: '200 OK', headers: { ETag: ETAG }, body: Buffer.alloc(0) };
      case 'GET':
        if (query.has('list-type')) return { status: '200 OK', headers: { 'Content-Type': 'application/xml' }, body: this.listPage(Number(query.get('max-keys') ?? 1000), query.get('delimiter') ?? '') };
        return { status: '200 OK', headers: { 'Content-Type': 'application/octet-stream', ETag: ETAG }, zeros: this.sizes.get(path) ?? SMALL_BODY_SIZE };
      case 'HEAD':
        return { status: '200 OK', headers: { 'Content-Length': String(this.sizes.get(path) ?? SMALL_BODY_SIZE), ETag: ETAG } };
      case 'DELETE':
        return { status: '204 No Content', headers: {} };
      case 'POST':
        if (query.has('uploads')) {
          this.uploads.set(path, 0);
          return xml(`<InitiateMultipartUploadResult xmlns="${S3_NS}"><Bucket>b</Bucket><Key>k</Key><UploadId>ceiling-upload</UploadId></InitiateMultipartUploadResult>`);
        }
        if (query.has('uploadId')) {
          this.sizes.set(path, this.uploads.get(path) ?? 0);
          return xml(`<CompleteMultipartUploadResult xmlns="${S3_NS}"><Location>${path}</Location><Bucket>b</Bucket><Key>k</Key><ETag>"ceiling-2"</ETag></CompleteMultipartUploadResult>`);
        }
        if (query.has('delete')) return xml(`<DeleteResult xmlns="${S3_NS}"></DeleteResult>`);
        return { status: '200 OK', headers: {}, body: Buffer.alloc(0) };
      default:
        return { status: '204 No Content', headers: {} };
    }
  }

  /** Rendered once per (max-keys, delimiter); entries look like the suite's list keys. */
  private listPage(maxKeys: number, delimiter: string): Buffer {
    const n = Math.max(0, Math.min(1000, Number.isFinite(maxKeys) ? maxKeys : 1000));
    const id = `${n}|${delimiter}`;
    let page = this.listPages.get(id);
    if (page === undefined) {
      const entries: string[] = [];
      for (let i = 0; i < n; i++) {
        const prefix = `p${String(i).padStart(4, '0')}/`;
        entries.push(
          delimiter
            ? `<CommonPrefixes><Prefix>${prefix}</Prefix></CommonPrefixes>`
            : `<Contents><Key>${prefix}object-${String(i).padStart(5, '0')}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>`,
        );
      }
      const delim = delimiter ? `<Delimiter>${delimiter}</Delimiter>` : '';
      page = Buffer.from(
        `${XML_HEAD}<ListBucketResult xmlns="${S3_NS}"><Name>ceiling</Name><Prefix></Prefix>${delim}<KeyCount>${n}</KeyCount><MaxKeys>${n}</MaxKeys><IsTruncated>true</IsTruncated>${entries.join('')}<NextContinuationToken>Y2VpbGluZw</NextContinuationToken></ListBucketResult>`,
      );
      this.listPages.set(id, page);
    }
    return page;
  }
}

function startUws(port: number): Promise<CeilingServer> {
  const state = new CeilingState();
  const app = uWS.App();

  /** Streams `total` zeros with one long-lived onWritable (platform notes §1.3 rule 6). */
  const sendZeros = (res: uWS.HttpResponse, total: number): void => {
    if (total <= ZEROS.length) {
      res.end(ZEROS.subarray(0, total));
      return;
    }
    // Every chunk is zeros, so the unsent tail of a chunk is just a shorter slice of ZEROS.
    let chunkStart = 0;
    let chunkLen = 0;
    const pump = (): boolean => {
      for (;;) {
        const offset = res.getWriteOffset();
        chunkStart = offset;
        chunkLen = Math.min(ZEROS.length, total - offset);
        const [ok, done] = res.tryEnd(ZEROS.subarray(0, chunkLen), total);
        if (done) return true;
        if (!ok) return false;
      }
    };
    res.onWritable((offset) => {
      const rest = chunkLen - (offset - chunkStart);
      const [ok, done] = res.tryEnd(ZEROS.subarray(0, rest), total);
      if (done) return true;
      if (!ok) return false;
      return pump();
    });
    pump();
  };

  const respond = (res: uWS.HttpResponse, method: string, a: Answer): void => {
    // Always called synchronously from a uWS callback (handler or onData), so already corked.
    res.writeStatus(a.status);
    for (const [name, value] of Object.entries(a.headers)) res.writeHeader(name, value);
    if (method === 'HEAD' || a.status.startsWith('204')) res.endWithoutBody();
    else if (a.body !== undefined) res.end(a.body);
    else sendZeros(res, a.zeros ?? 0);
  };

  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const query = new URLSearchParams(req.getQuery() ?? '');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
      respond(res, method, state.answer(method, path, query, 0));
      return;
    }
    let received = 0;
    res.onData((chunk, isLast) => {
      received += chunk.byteLength;
      if (isLast && !aborted) respond(res, method, state.answer(method, path, query, received));
    });
  });

  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', port, (token) => {
      if (!token) {
        reject(new Error(`uWS ceiling could not listen on 127.0.0.1:${port}`));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(token),
        close: async () => {
          // Stops accepting; open keep-alive sockets die with the process.
          uWS.us_listen_socket_close(token);
        },
      });
    });
  });
}

function startNode(port: number): Promise<CeilingServer> {
  const state = new CeilingState();
  const server = createHttpServer({ keepAliveTimeout: 60_000 }, (req: IncomingMessage, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    req.on('end', () => {
      const a = state.answer(method, path, query, received);
      const total = a.body?.length ?? a.zeros ?? 0;
      const headers = method === 'HEAD' || a.status.startsWith('204') ? a.headers : { ...a.headers, 'Content-Length': String(total) };
      res.writeHead(Number(a.status.slice(0, 3)), headers);
      if (method === 'HEAD' || a.status.startsWith('204')) {
        res.end();
        return;
      }
      if (a.body !== undefined) {
        res.end(a.body);
        return;
      }
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(ZEROS.length, total - sent);
          sent += n;
          if (!res.write(ZEROS.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
  });
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

export function startCeiling(engine: CeilingEngine, port = 0): Promise<CeilingServer> {
  return engine === 'uws' ? startUws(port) : startNode(port);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { engine: { type: 'string', default: 'uws' }, port: { type: 'string', default: '0' }, 'exit-with-stdin': { type: 'boolean', default: false } } });
  const engine = values.engine;
  if (engine !== 'uws' && engine !== 'node') throw new Error(`--engine must be uws or node, got ${engine}`);
  const server = await startCeiling(engine, Number(values.port));
  process.stdout.write(`Ceiling (${engine}) listening on 127.0.0.1:${server.port}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started with a lifeline pipe (bench/server-process.ts): its end means the bench is gone.
  if (values['exit-with-stdin']) {
    process.stdin.on('end', stop).on('close', stop).resume();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: Error) => {
    process.stderr.write(`ceiling: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
