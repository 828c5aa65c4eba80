// The "ceiling" for the load benchmark: a trivial static server on the same HTTP engine as
// BleepStore (uWS or node:http). It does no auth, no metadata, no disk: GET answers with zeros
// (4 KiB by default, or as many bytes as the last PUT to that path stored), PUT drains the body
// and answers 200. BleepStore's figures divided by these show what the S3 work costs.
//
//   node dist/bench/ceiling.js --engine uws|node [--port N]
// prints "Ceiling (ENGINE) listening on 127.0.0.1:PORT" once it accepts connections.
import { createServer as createHttpServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';

export type CeilingEngine = 'uws' | 'node';

const SMALL_BODY_SIZE = 4096;
const ZEROS = Buffer.alloc(1024 * 1024);
const ETAG = '"d41d8cd98f00b204e9800998ecf8427e"';

export interface CeilingServer {
  port: number;
  close(): Promise<void>;
}

function startUws(port: number): Promise<CeilingServer> {
  const sizes = new Map<string, number>();
  const app = uWS.App();

  app.put('/*', (res, req) => {
    const path = req.getUrl();
    let aborted = false;
    let received = 0;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, isLast) => {
      received += chunk.byteLength;
      if (!isLast || aborted) return;
      sizes.set(path, received);
      res.writeStatus('200 OK').writeHeader('ETag', ETAG).end();
    });
  });

  app.get('/*', (res, req) => {
    const total = sizes.get(req.getUrl()) ?? SMALL_BODY_SIZE;
    res.onAborted(() => {
      /* nothing to release: the body is generated */
    });
    res.writeHeader('Content-Type', 'application/octet-stream').writeHeader('ETag', ETAG);
    if (total <= ZEROS.length) {
      res.end(ZEROS.subarray(0, total));
      return;
    }
    // One long-lived onWritable reading mutable state (platform notes §1.3 rule 6). Every
    // chunk is zeros, so the unsent tail of a chunk is just a shorter slice of ZEROS.
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
  });

  app.any('/*', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, isLast) => {
      if (isLast && !aborted) res.writeStatus('204 No Content').end();
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
  const sizes = new Map<string, number>();
  const server = createHttpServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.method === 'PUT') {
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      req.on('end', () => {
        sizes.set(path, received);
        res.writeHead(200, { ETag: ETAG, 'Content-Length': '0' });
        res.end();
      });
      return;
    }
    if (req.method === 'GET') {
      const total = sizes.get(path) ?? SMALL_BODY_SIZE;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', ETag: ETAG, 'Content-Length': String(total) });
      if (total <= ZEROS.length) {
        res.end(ZEROS.subarray(0, total));
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
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(204);
      res.end();
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
  const { values } = parseArgs({ options: { engine: { type: 'string', default: 'uws' }, port: { type: 'string', default: '0' } } });
  const engine = values.engine;
  if (engine !== 'uws' && engine !== 'node') throw new Error(`--engine must be uws or node, got ${engine}`);
  const server = await startCeiling(engine, Number(values.port));
  process.stdout.write(`Ceiling (${engine}) listening on 127.0.0.1:${server.port}\n`);
  const stop = (): void => {
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: Error) => {
    process.stderr.write(`ceiling: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
