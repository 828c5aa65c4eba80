// Virtual-hosted-style addressing (server.virtual_host_domains): the bucket comes from the Host
// header, the whole path is the key, and SigV4 verifies against the Host as sent.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../src/config.js';
import { createServer, type BleepStoreServer } from '../src/server.js';
import { createLogger } from '../src/log.js';
import { sha256Hex, signHeaders } from '../e2e/raw-http.js';

describe('virtual-hosted-style requests', () => {
  let server: BleepStoreServer;
  let port = 0;

  before(async () => {
    const config = defaultConfig();
    config.server.host = '127.0.0.1';
    config.server.port = 0;
    config.server.http_engine = 'node';
    config.server.virtual_host_domains = ['s3.local'];
    config.metadata.engine = 'memory';
    config.storage.backend = 'memory';
    server = await createServer(config, { logger: createLogger('error', 'text') });
    port = await server.listen();
  });
  after(async () => {
    await server.close();
  });

  /** Signs for `host` but connects to 127.0.0.1 (the names need no DNS). */
  async function send(host: string, method: string, path: string, body = Buffer.alloc(0)): Promise<{ status: number; body: string }> {
    const headers = await signHeaders(`http://${host}:${port}`, { method, path }, { payloadHash: sha256Hex(body) });
    headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('creates, writes, lists and reads through the bucket host', async () => {
    assert.equal((await send('photos.s3.local', 'PUT', '/')).status, 200);
    assert.equal((await send('photos.s3.local', 'PUT', '/2026/a%20b.txt', Buffer.from('virtual'))).status, 200);
    const listing = await send('photos.s3.local', 'GET', '/');
    assert.equal(listing.status, 200);
    assert.match(listing.body, /<Name>photos<\/Name>.*<Key>2026\/a b\.txt<\/Key>/s);
    const got = await send('photos.s3.local', 'GET', '/2026/a%20b.txt');
    assert.deepEqual(got, { status: 200, body: 'virtual' });
    // The same object path-style, through the bare domain.
    assert.deepEqual(await send('s3.local', 'GET', '/photos/2026/a%20b.txt'), { status: 200, body: 'virtual' });
  });

  it('answers NoSuchBucket for an unknown bucket host', async () => {
    const r = await send('nope.s3.local', 'GET', '/key');
    assert.equal(r.status, 404);
    assert.match(r.body, /<Code>NoSuchBucket<\/Code>/);
  });
});
