// Logging (spec/observability.md §5): one access line per request with the request fields,
// errors with their S3 code, probes not logged, text and JSON formats, level filtering, and
// never a secret key, a signature or an Authorization value in any line.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger, jsonLineToText, normaliseLevel } from '../src/log.js';
import { presignPath, signHeaders, EMPTY_SHA256 } from '../e2e/raw-http.js';
import { call, ENGINES, startTestServer, type TestServer } from './observability-server.js';

const SECRET = 'bleepstore-secret';

interface AccessLine {
  timestamp: string;
  level: string;
  logger: string;
  message: string;
  request_id?: string;
  method?: string;
  path?: string;
  operation?: string;
  status?: number;
  bytes_in?: number;
  bytes_out?: number;
  duration_ms?: number;
  error_code?: string;
}

function parsed(t: TestServer): AccessLine[] {
  return t.logs.map((l) => JSON.parse(l) as AccessLine);
}

function accessLines(t: TestServer): AccessLine[] {
  return parsed(t).filter((l) => l.request_id !== undefined);
}

describe('log levels and formats', () => {
  it('accepts every upstream spelling of the level', () => {
    assert.equal(normaliseLevel('DEBUG'), 'debug');
    assert.equal(normaliseLevel('trace'), 'debug');
    assert.equal(normaliseLevel('INFO'), 'info');
    assert.equal(normaliseLevel('WARNING'), 'warn');
    assert.equal(normaliseLevel('warn'), 'warn');
    assert.equal(normaliseLevel('CRITICAL'), 'error');
    assert.equal(normaliseLevel('nonsense'), 'info');
  });

  it('filters by level and redacts secret-bearing field names', () => {
    const lines: string[] = [];
    const log = createLogger('warning', 'json', (l) => lines.push(l));
    log.info('hidden');
    log.warn('shown', { authorization: 'AWS4-HMAC-SHA256 Credential=x, Signature=abc', secret_key: 'k', 'x-amz-signature': 'sig', path: '/b/k' });
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(line.message, 'shown');
    assert.equal(line.level, 'warn');
    assert.equal(line.logger, 'bleepstore');
    assert.match(String(line.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line.authorization, '[REDACTED]');
    assert.equal(line.secret_key, '[REDACTED]');
    assert.equal(line['x-amz-signature'], '[REDACTED]');
    assert.equal(line.path, '/b/k');
  });

  it('text lines read "{timestamp} {LEVEL} {logger}: {message} key=value"', () => {
    const text = jsonLineToText('{"level":"warn","timestamp":"2026-01-01T00:00:00.000Z","logger":"bleepstore","message":"m","n":3,"s":"a b"}\n');
    assert.equal(text, '2026-01-01T00:00:00.000Z WARNING bleepstore: m n=3 s="a b"\n');
  });
});

for (const engine of ENGINES) {
  describe(`access log [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ engine });
    });
    after(async () => t?.close());

    it('one line per request with request id, method, path, operation, status, bytes and duration', async () => {
      const body = randomBytes(3000);
      const put = await call(t.endpoint, 'PUT', '/log-bucket');
      await call(t.endpoint, 'PUT', '/log-bucket/a%20key', body);
      await call(t.endpoint, 'GET', '/log-bucket/a%20key');
      const missing = await call(t.endpoint, 'GET', '/log-bucket/nothing-here');
      await call(t.endpoint, 'GET', '/healthz');
      await call(t.endpoint, 'GET', '/health');
      await call(t.endpoint, 'GET', '/readyz');
      await call(t.endpoint, 'GET', '/metrics');
      await call(t.endpoint, 'GET', '/openapi.json');
      // A streamed response is logged when it ends; give the engine a moment to finish writing.
      await new Promise((r) => setTimeout(r, 50));

      const lines = accessLines(t);
      assert.deepEqual(
        lines.map((l) => `${l.method} ${l.path} ${l.status}`),
        ['PUT /log-bucket 200', 'PUT /log-bucket/a%20key 200', 'GET /log-bucket/a%20key 200', 'GET /log-bucket/nothing-here 404', 'GET /openapi.json 200'],
        'probes and /metrics are not logged',
      );
      const [create, upload, download, notFound] = lines;
      assert.equal(create?.request_id, put.headers['x-amz-request-id']);
      assert.equal(create?.operation, 'CreateBucket');
      assert.equal(upload?.operation, 'PutObject');
      assert.equal(upload?.bytes_in, 3000);
      assert.equal(download?.operation, 'GetObject');
      assert.equal(download?.bytes_out, 3000);
      assert.equal(notFound?.error_code, 'NoSuchKey');
      assert.equal(notFound?.request_id, missing.headers['x-amz-request-id']);
      for (const l of lines) {
        assert.equal(l.level, 'info');
        assert.equal(typeof l.duration_ms, 'number');
        assert.equal(l.message, `${l.method} ${l.path} ${l.status} ${l.duration_ms}ms`);
      }
      assert.equal(lines[4]?.operation, undefined, 'infra requests have no S3 operation');
    });
  });

  describe(`no secrets in logs [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({
        engine,
        tweak: (c) => {
          c.auth.enabled = true;
          c.logging.level = 'debug';
        },
      });
    });
    after(async () => t?.close());

    it('signed, presigned and badly signed requests leave no secret, signature or Authorization in the log', async () => {
      const signatures: string[] = [];
      const headers = await signHeaders(t.endpoint, { method: 'PUT', path: '/secret-bucket' });
      signatures.push(/Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1] ?? '');
      assert.equal((await call(t.endpoint, 'PUT', '/secret-bucket', undefined, headers)).status, 200);

      const presigned = await presignPath(t.endpoint, { method: 'GET', path: '/secret-bucket' }, 300);
      signatures.push(/X-Amz-Signature=([0-9a-f]{64})/.exec(presigned)?.[1] ?? '');
      assert.equal((await call(t.endpoint, 'GET', presigned)).status, 200);

      const bad = await signHeaders(t.endpoint, { method: 'GET', path: '/secret-bucket' }, { credentials: { accessKeyId: 'bleepstore', secretAccessKey: 'wrong-secret' }, payloadHash: EMPTY_SHA256 });
      signatures.push(/Signature=([0-9a-f]{64})/.exec(bad.authorization ?? '')?.[1] ?? '');
      const denied = await call(t.endpoint, 'GET', '/secret-bucket', undefined, bad);
      assert.equal(denied.status, 403);

      const all = t.logs.join('');
      assert.ok(accessLines(t).length >= 3, all);
      for (const sig of signatures) {
        assert.equal(sig.length, 64);
        assert.ok(!all.includes(sig), 'a signature reached the log');
      }
      assert.ok(!all.includes(SECRET), 'the secret key reached the log');
      assert.ok(!all.includes('wrong-secret'));
      assert.ok(!all.includes('AWS4-HMAC-SHA256 Credential'), 'an Authorization value reached the log');
      assert.ok(!all.includes('X-Amz-Credential'), 'presigned query parameters reached the log');
      const deniedLine = accessLines(t).find((l) => l.status === 403);
      assert.equal(deniedLine?.error_code, 'SignatureDoesNotMatch');
    });
  });

  describe(`text format and quiet levels [${engine}]`, () => {
    it('text access lines; nothing per request above info', async () => {
      const text = await startTestServer({ engine, logFormat: 'text' });
      try {
        await call(text.endpoint, 'PUT', '/text-bucket');
        const line = text.logs.find((l) => l.includes('PUT /text-bucket'));
        assert.match(line ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO bleepstore: PUT \/text-bucket 200 [\d.]+ms request_id=[0-9A-F]{16} method=PUT path=\/text-bucket operation=CreateBucket status=200 /);
      } finally {
        await text.close();
      }
      const quiet = await startTestServer({ engine, tweak: (c) => (c.logging.level = 'warning') });
      try {
        await call(quiet.endpoint, 'PUT', '/quiet-bucket');
        assert.deepEqual(quiet.logs, []);
      } finally {
        await quiet.close();
      }
    });
  });
}
