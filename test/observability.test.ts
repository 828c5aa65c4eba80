// /metrics, /health, /healthz, /readyz, /openapi.json, /docs and their toggles (spec/observability.md),
// against a real server on each HTTP engine. /metrics is read with a strict text-format parser.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { METRIC_NAMES, normalisePath } from '../src/observability/metrics.js';
import { OPERATIONS, ROUTES } from '../src/s3/routes.js';
import { call, ENGINES, s3ErrorCode, startTestServer, type TestServer } from './observability-server.js';
import { parseExposition, sampleValue, type MetricFamily } from './observability-text-format.js';
import { sharedFixture } from './shared-fixtures.js';

const REFERENCE_SCHEMA = sharedFixture('s3-api.openapi.json');

async function scrape(endpoint: string): Promise<Map<string, MetricFamily>> {
  const res = await call(endpoint, 'GET', '/metrics');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(res.body.toString('utf8'));
}

describe('normalisePath', () => {
  it('maps raw paths to the spec labels', () => {
    const cases: [string, string][] = [
      ['', '/'],
      ['/', '/'],
      ['/health', '/health'],
      ['/healthz', '/healthz'],
      ['/readyz', '/readyz'],
      ['/metrics', '/metrics'],
      ['/openapi.json', '/openapi.json'],
      ['/docs', '/docs'],
      ['/docs/', '/docs'],
      ['/docs/swagger-ui.css', '/docs'],
      ['/bucket', '/{bucket}'],
      ['/bucket/', '/{bucket}'],
      ['/bucket/key', '/{bucket}/{key}'],
      ['/bucket/a/b/c', '/{bucket}/{key}'],
      ['/health/x', '/{bucket}/{key}'],
    ];
    for (const [raw, label] of cases) assert.equal(normalisePath(raw), label, raw);
  });
});

for (const engine of ENGINES) {
  describe(`metrics [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ engine });
    });
    after(async () => t?.close());

    it('exposes all nine metrics and Node process metrics before any traffic', async () => {
      const families = await scrape(t.endpoint);
      for (const name of METRIC_NAMES) assert.ok(families.has(name), `missing ${name}`);
      assert.equal(families.get('bleepstore_http_requests_total')?.type, 'counter');
      assert.equal(families.get('bleepstore_http_request_duration_seconds')?.type, 'histogram');
      assert.equal(families.get('bleepstore_objects_total')?.type, 'gauge');
      assert.equal(sampleValue(families, 'bleepstore_s3_operations_total', { operation: 'ListBuckets', status: 'success' }), 0);
      assert.equal(sampleValue(families, 'bleepstore_buckets_total'), 0);
      assert.ok(families.has('process_resident_memory_bytes'));
      assert.ok(families.has('process_cpu_seconds_total'));
      assert.ok([...families.keys()].some((n) => n.startsWith('nodejs_')));
    });

    it('counts requests, operations, bytes and inventory with the spec labels and buckets', async () => {
      const body = randomBytes(5000);
      assert.equal((await call(t.endpoint, 'PUT', '/metric-bucket')).status, 200);
      assert.equal((await call(t.endpoint, 'PUT', '/metric-bucket/some/key.bin', body)).status, 200);
      const got = await call(t.endpoint, 'GET', '/metric-bucket/some/key.bin');
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(body));
      assert.equal((await call(t.endpoint, 'HEAD', '/metric-bucket/some/key.bin')).status, 200);
      const missing = await call(t.endpoint, 'GET', '/metric-bucket/missing');
      assert.equal(missing.status, 404);
      const patch = await call(t.endpoint, 'PATCH', '/metric-bucket');
      assert.equal(patch.status, 405);

      const m = await scrape(t.endpoint);
      const v = (name: string, labels: Record<string, string> = {}): number | undefined => sampleValue(m, name, labels);
      assert.equal(v('bleepstore_http_requests_total', { method: 'PUT', path: '/{bucket}', status: '200' }), 1);
      assert.equal(v('bleepstore_http_requests_total', { method: 'PUT', path: '/{bucket}/{key}', status: '200' }), 1);
      assert.equal(v('bleepstore_http_requests_total', { method: 'GET', path: '/{bucket}/{key}', status: '200' }), 1);
      assert.equal(v('bleepstore_http_requests_total', { method: 'GET', path: '/{bucket}/{key}', status: '404' }), 1);
      assert.equal(v('bleepstore_http_requests_total', { method: 'PATCH', path: '/{bucket}', status: '405' }), 1);
      assert.equal(v('bleepstore_s3_operations_total', { operation: 'CreateBucket', status: 'success' }), 1);
      assert.equal(v('bleepstore_s3_operations_total', { operation: 'PutObject', status: 'success' }), 1);
      assert.equal(v('bleepstore_s3_operations_total', { operation: 'GetObject', status: 'success' }), 1);
      assert.equal(v('bleepstore_s3_operations_total', { operation: 'GetObject', status: 'error' }), 1);
      assert.equal(v('bleepstore_s3_operations_total', { operation: 'HeadObject', status: 'success' }), 1);
      assert.equal(v('bleepstore_s3_operations_total', { operation: 'Unknown', status: 'error' }), 1);
      // Request body: exactly the 5000 bytes streamed, in the 16 KiB bucket and not the 4 KiB one.
      assert.equal(v('bleepstore_http_request_size_bytes_count', { method: 'PUT', path: '/{bucket}/{key}' }), 1);
      assert.equal(v('bleepstore_http_request_size_bytes_sum', { method: 'PUT', path: '/{bucket}/{key}' }), 5000);
      assert.equal(v('bleepstore_http_request_size_bytes_bucket', { method: 'PUT', path: '/{bucket}/{key}', le: '4096' }), 0);
      assert.equal(v('bleepstore_http_request_size_bytes_bucket', { method: 'PUT', path: '/{bucket}/{key}', le: '16384' }), 1);
      assert.equal(v('bleepstore_bytes_received_total'), 5000);
      // The GET body (streamed from disk) and the error documents, byte for byte; HEAD and the
      // empty 200s send no body bytes.
      assert.equal(v('bleepstore_http_response_size_bytes_sum', { method: 'GET', path: '/{bucket}/{key}' }), 5000 + missing.body.length);
      assert.equal(v('bleepstore_http_response_size_bytes_count', { method: 'GET', path: '/{bucket}/{key}' }), 2);
      assert.equal(v('bleepstore_bytes_sent_total'), 5000 + missing.body.length + patch.body.length);
      assert.equal(v('bleepstore_http_response_size_bytes_count', { method: 'HEAD', path: '/{bucket}/{key}' }), undefined);
      const durationBuckets = m.get('bleepstore_http_request_duration_seconds')?.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.method === 'GET' && s.labels.path === '/{bucket}/{key}');
      assert.deepEqual(
        durationBuckets?.map((s) => s.labels.le),
        ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'],
      );
      const sizeBuckets = m.get('bleepstore_http_request_size_bytes')?.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le);
      assert.deepEqual(sizeBuckets, ['256', '1024', '4096', '16384', '65536', '262144', '1048576', '4194304', '16777216', '67108864', '+Inf']);
      assert.equal(v('bleepstore_buckets_total'), 1);
      assert.equal(v('bleepstore_objects_total'), 1);

      assert.equal((await call(t.endpoint, 'DELETE', '/metric-bucket/some/key.bin')).status, 204);
      const after = await scrape(t.endpoint);
      assert.equal(sampleValue(after, 'bleepstore_objects_total'), 0);
      assert.equal(sampleValue(after, 'bleepstore_s3_operations_total', { operation: 'DeleteObject', status: 'success' }), 1);
    });

    it('never counts /metrics itself, but counts the other infra paths', async () => {
      await call(t.endpoint, 'GET', '/health');
      await scrape(t.endpoint);
      const res = await call(t.endpoint, 'GET', '/metrics');
      const text = res.body.toString('utf8');
      for (const line of text.split('\n')) {
        if (line.startsWith('bleepstore_http_')) assert.ok(!line.includes('/metrics'), line);
      }
      const m = parseExposition(text);
      assert.ok((sampleValue(m, 'bleepstore_http_requests_total', { method: 'GET', path: '/health', status: '200' }) ?? 0) >= 1);
    });
  });

  describe(`metrics disabled [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ engine, tweak: (c) => (c.observability.metrics = false) });
    });
    after(async () => t?.close());

    it('/metrics answers an S3-shaped 404 and S3 traffic still works', async () => {
      assert.equal((await call(t.endpoint, 'PUT', '/plain-bucket')).status, 200);
      const res = await call(t.endpoint, 'GET', '/metrics');
      assert.equal(res.status, 404);
      assert.equal(s3ErrorCode(res.body), 'NoSuchBucket');
      const doc = JSON.parse((await call(t.endpoint, 'GET', '/openapi.json')).body.toString('utf8')) as { paths: Record<string, unknown> };
      assert.equal(doc.paths['/metrics'], undefined, 'the document lists only what is served');
    });
  });

  describe(`health [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ engine });
    });
    after(async () => t?.close());

    it('/health reports each component with a numeric latency; HEAD has no body', async () => {
      const res = await call(t.endpoint, 'GET', '/health');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /application\/json/);
      assert.ok(res.headers['x-amz-request-id']);
      const body = JSON.parse(res.body.toString('utf8')) as { status: string; checks: Record<string, { status: string; latency_ms: number }> };
      assert.equal(body.status, 'ok');
      for (const c of ['metadata', 'storage']) {
        assert.equal(body.checks[c]?.status, 'ok');
        assert.equal(typeof body.checks[c]?.latency_ms, 'number');
      }
      const head = await call(t.endpoint, 'HEAD', '/health');
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
    });

    it('/healthz and /readyz answer 200 with an empty body', async () => {
      for (const path of ['/healthz', '/readyz']) {
        for (const method of ['GET', 'HEAD']) {
          const res = await call(t.endpoint, method, path);
          assert.equal(res.status, 200, `${method} ${path}`);
          assert.equal(res.body.length, 0);
        }
      }
    });

    it('a signed request to /health is S3 (the bucket "health"), not the probe', async () => {
      const res = await call(t.endpoint, 'GET', '/health', undefined, { authorization: 'AWS4-HMAC-SHA256 Credential=x' });
      assert.equal(res.status, 404);
      assert.equal(s3ErrorCode(res.body), 'NoSuchBucket');
    });

    it('degrades to 503 when storage is gone, and /readyz follows', async () => {
      const root = t.config.storage.local.root_dir;
      rmSync(root, { recursive: true, force: true });
      const res = await call(t.endpoint, 'GET', '/health');
      assert.equal(res.status, 503);
      const body = JSON.parse(res.body.toString('utf8')) as { status: string; checks: Record<string, { status: string; error?: string; latency_ms: number }> };
      assert.equal(body.status, 'degraded');
      assert.equal(body.checks.metadata?.status, 'ok');
      assert.equal(body.checks.storage?.status, 'error');
      assert.ok(body.checks.storage?.error);
      assert.equal(typeof body.checks.storage?.latency_ms, 'number');
      assert.equal((await call(t.endpoint, 'GET', '/readyz')).status, 503);
      assert.equal((await call(t.endpoint, 'GET', '/healthz')).status, 200, 'liveness does not check dependencies');
    });
  });

  describe(`health disabled [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ engine, tweak: (c) => (c.observability.health_check = false) });
    });
    after(async () => t?.close());

    it('/health is static, /healthz and /readyz are S3-shaped 404s', async () => {
      const health = await call(t.endpoint, 'GET', '/health');
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.body.toString('utf8')), { status: 'ok' });
      for (const path of ['/healthz', '/readyz']) {
        const res = await call(t.endpoint, 'GET', path);
        assert.equal(res.status, 404, path);
        assert.equal(s3ErrorCode(res.body), 'NoSuchBucket');
      }
      const doc = JSON.parse((await call(t.endpoint, 'GET', '/openapi.json')).body.toString('utf8')) as { paths: Record<string, unknown> };
      assert.equal(doc.paths['/healthz'], undefined);
      assert.ok(doc.paths['/metrics']);
    });
  });

  describe(`openapi and docs [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ engine });
    });
    after(async () => t?.close());

    interface Operation {
      operationId: string;
      'x-s3-operations': { operation: string; query?: string[]; queryValue?: Record<string, string>; header?: string }[];
    }
    type Doc = { openapi: string; info: { title: string; version: string; license: { name: string } }; servers: { url: string }[]; security: Record<string, unknown>[]; tags: { name: string }[]; paths: Record<string, Record<string, unknown>>; components: Record<string, Record<string, unknown>> };

    async function served(): Promise<Doc> {
      const res = await call(t.endpoint, 'GET', '/openapi.json');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /application\/json/);
      return JSON.parse(res.body.toString('utf8')) as Doc;
    }

    it('has the metadata the upstream conformance checks look at, and this server in servers', async () => {
      const doc = await served();
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(doc.info.title, 'BleepStore S3-Compatible API');
      assert.equal(doc.info.version, '1.0.0');
      assert.equal(doc.info.license.name, 'MIT');
      assert.ok('sigv4' in (doc.security[0] ?? {}));
      const tags = doc.tags.map((x) => x.name);
      for (const tag of ['Bucket', 'Object', 'MultipartUpload']) assert.ok(tags.includes(tag));
      assert.deepEqual(doc.servers.map((s) => s.url), [`http://localhost:${t.port}`]);
      assert.equal((doc.components.securitySchemes?.sigv4 as { type: string }).type, 'http');
    });

    it('lists every routed operation exactly once, with what selects it, in dispatch order', async () => {
      const doc = await served();
      const listed: string[] = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          if (method === 'parameters') continue;
          const selectors = (op as Operation)['x-s3-operations'] ?? [];
          for (const s of selectors) {
            listed.push(s.operation);
            const route = ROUTES.find((r) => r.operation === s.operation);
            assert.ok(route, `${s.operation} is not a route`);
            assert.equal(route.method.toLowerCase(), method, `${s.operation} listed under ${method}`);
            assert.equal(path, route.level === 'service' ? '/' : route.level === 'bucket' ? '/{Bucket}' : '/{Bucket}/{Key+}');
            assert.deepEqual(s.query, route.query);
            assert.equal(s.header, route.header);
          }
        }
      }
      assert.deepEqual([...listed].sort(), [...OPERATIONS].sort());
    });

    it('covers every operation of the reference schema (path, method, operationId)', async () => {
      const doc = await served();
      const reference = JSON.parse(readFileSync(REFERENCE_SCHEMA, 'utf8')) as Doc;
      let count = 0;
      for (const [path, item] of Object.entries(reference.paths)) {
        for (const [method, op] of Object.entries(item)) {
          if (method === 'parameters') continue;
          count++;
          const ours = doc.paths[path]?.[method] as Operation | undefined;
          assert.ok(ours, `${method.toUpperCase()} ${path} missing`);
          assert.equal(ours.operationId, (op as { operationId: string }).operationId);
        }
      }
      assert.equal(count, 11);
      for (const p of ['/health', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) assert.ok(doc.paths[p], p);
    });

    it('/docs serves Swagger UI whose every asset comes from this server', async () => {
      for (const path of ['/docs', '/docs/']) {
        const res = await call(t.endpoint, 'GET', path);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
        const html = res.body.toString('utf8');
        assert.ok(html.toLowerCase().includes('swagger'));
        const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
        assert.ok(refs.length >= 3);
        for (const ref of refs) {
          assert.ok(ref.startsWith('/docs/'), `external reference ${ref}`);
          const asset = await call(t.endpoint, 'GET', ref);
          assert.equal(asset.status, 200, ref);
          assert.ok(asset.body.length > 0, ref);
        }
      }
      const bundle = await call(t.endpoint, 'GET', '/docs/swagger-ui-bundle.js');
      assert.match(String(bundle.headers['content-type']), /javascript/);
      assert.ok(bundle.body.length > 500_000);
      const init = await call(t.endpoint, 'GET', '/docs/swagger-init.js');
      assert.ok(init.body.toString('utf8').includes("'/openapi.json'"));
      const css = await call(t.endpoint, 'GET', '/docs/swagger-ui.css');
      assert.match(String(css.headers['content-type']), /text\/css/);
      assert.equal((await call(t.endpoint, 'GET', '/docs/../package.json')).status, 404);
      assert.equal((await call(t.endpoint, 'GET', '/docs/index.css')).status, 404);
    });

    it('serves the same bytes every time (generated once)', async () => {
      const a = await call(t.endpoint, 'GET', '/openapi.json');
      const b = await call(t.endpoint, 'GET', '/openapi.json');
      assert.equal(createHash('sha256').update(a.body).digest('hex'), createHash('sha256').update(b.body).digest('hex'));
    });
  });
}
