// The nine bleepstore_* Prometheus metrics (spec/observability.md §2) plus prom-client's Node
// process metrics, exposed through one prom-client Registry.
//
// Hot path: prom-client's own Counter/Histogram hash their label object on every update (measured
// ~3 µs per request for the five updates a request needs, about half of uWS's whole per-request
// cost). So requests update plain numbers in nested Maps keyed by constant label strings (no
// allocation once a series exists), and the registry reads them only when /metrics is scraped.
import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';

export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const SIZE_BUCKETS: readonly number[] = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

export const METRIC_NAMES = [
  'bleepstore_http_requests_total',
  'bleepstore_http_request_duration_seconds',
  'bleepstore_http_request_size_bytes',
  'bleepstore_http_response_size_bytes',
  'bleepstore_s3_operations_total',
  'bleepstore_objects_total',
  'bleepstore_buckets_total',
  'bleepstore_bytes_received_total',
  'bleepstore_bytes_sent_total',
] as const;

/** The label values of `path` (cardinality control). */
export type PathLabel = '/' | '/{bucket}' | '/{bucket}/{key}' | '/docs' | '/health' | '/healthz' | '/readyz' | '/openapi.json' | '/metrics';

const FIXED_PATHS: ReadonlyMap<string, PathLabel> = new Map<string, PathLabel>([
  ['/health', '/health'],
  ['/healthz', '/healthz'],
  ['/readyz', '/readyz'],
  ['/openapi.json', '/openapi.json'],
  ['/metrics', '/metrics'],
]);

/** Raw request path → `path` label, without allocating. */
export function normalisePath(rawPath: string): PathLabel {
  const fixed = FIXED_PATHS.get(rawPath);
  if (fixed !== undefined) return fixed;
  if (rawPath.startsWith('/docs')) return '/docs';
  if (rawPath.length <= 1) return '/';
  const slash = rawPath.indexOf('/', 1);
  // '/b' and '/b/' address the bucket; anything after the second '/' is a key.
  return slash < 0 || slash === rawPath.length - 1 ? '/{bucket}' : '/{bucket}/{key}';
}

/** One histogram series: per-bucket (non-cumulative) counts, made cumulative at scrape time. */
class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
}

/** Everything recorded for one (method, path) pair. */
class RouteSeries {
  readonly duration = new HistogramSeries(DURATION_BUCKETS);
  readonly requestSize = new HistogramSeries(SIZE_BUCKETS);
  readonly responseSize = new HistogramSeries(SIZE_BUCKETS);
  /** HTTP status → request count. */
  readonly statuses = new Map<number, number>();
}

export interface CompletedRequest {
  method: string;
  path: PathLabel;
  status: number;
  /** S3 operation name, 'Unknown' when routing failed; undefined for infrastructure requests. */
  operation: string | undefined;
  bytesReceived: number;
  bytesSent: number;
  durationSeconds: number;
}

/** Where the object/bucket gauges come from: read at scrape time, so they are always exact. */
export interface InventoryCounts {
  buckets(): Promise<number>;
  objects(): Promise<number>;
}

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * A metric whose samples are computed on scrape. prom-client's Registry serialises any
 * registered object with name/help/type/aggregator/get(); its own metric classes are the hot-path
 * cost this module avoids. The exposition is checked by a text-format parser in the tests.
 */
class ScrapedMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly samples: () => Sample[] | Promise<Sample[]>,
  ) {}

  async get(): Promise<{ name: string; help: string; type: MetricType; values: Sample[]; aggregator: string }> {
    return { name: this.name, help: this.help, type: this.type, values: await this.samples(), aggregator: this.aggregator };
  }

  reset(): void {}
}

function histogramSamples(name: string, bounds: readonly number[], series: Iterable<[Labels, HistogramSeries]>): Sample[] {
  const out: Sample[] = [];
  for (const [labels, h] of series) {
    if (h.count === 0) continue;
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += h.counts[i];
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bounds[i] }, value: cumulative });
    }
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
    out.push({ metricName: `${name}_sum`, labels, value: h.sum });
    out.push({ metricName: `${name}_count`, labels, value: h.count });
  }
  return out;
}

export class Metrics {
  readonly registry = new Registry();
  /** method → path label → series */
  private readonly routes = new Map<string, Map<PathLabel, RouteSeries>>();
  /** operation → count, split by outcome */
  private readonly operationSuccess = new Map<string, number>();
  private readonly operationError = new Map<string, number>();
  private bytesReceived = 0;
  private bytesSent = 0;

  constructor(inventory: InventoryCounts, options: { processMetrics?: boolean } = {}) {
    // Go pre-creates this series at 0; scrapers then see the metric with a sample from the start.
    this.operationSuccess.set('ListBuckets', 0);
    const register = (m: ScrapedMetric): void => this.registry.registerMetric(m as unknown as Metric);
    register(new ScrapedMetric('bleepstore_http_requests_total', 'Total HTTP requests (all except /metrics)', 'counter', () => this.requestSamples()));
    register(
      new ScrapedMetric('bleepstore_http_request_duration_seconds', 'HTTP request duration from request start to response end', 'histogram', () =>
        histogramSamples('bleepstore_http_request_duration_seconds', DURATION_BUCKETS, this.routeHistograms((r) => r.duration)),
      ),
    );
    register(
      new ScrapedMetric('bleepstore_http_request_size_bytes', 'HTTP request body size in bytes', 'histogram', () =>
        histogramSamples('bleepstore_http_request_size_bytes', SIZE_BUCKETS, this.routeHistograms((r) => r.requestSize)),
      ),
    );
    register(
      new ScrapedMetric('bleepstore_http_response_size_bytes', 'HTTP response body size in bytes', 'histogram', () =>
        histogramSamples('bleepstore_http_response_size_bytes', SIZE_BUCKETS, this.routeHistograms((r) => r.responseSize)),
      ),
    );
    register(new ScrapedMetric('bleepstore_s3_operations_total', 'S3 operations by name and outcome', 'counter', () => this.operationSamples()));
    register(new ScrapedMetric('bleepstore_objects_total', 'Objects across all buckets', 'gauge', async () => [{ labels: {}, value: await inventory.objects() }]));
    register(new ScrapedMetric('bleepstore_buckets_total', 'Buckets', 'gauge', async () => [{ labels: {}, value: await inventory.buckets() }]));
    register(new ScrapedMetric('bleepstore_bytes_received_total', 'Request body bytes received', 'counter', () => [{ labels: {}, value: this.bytesReceived }]));
    register(new ScrapedMetric('bleepstore_bytes_sent_total', 'Response body bytes sent', 'counter', () => [{ labels: {}, value: this.bytesSent }]));
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  /** Records one finished request. Best effort: it never throws into the request path. */
  record(r: CompletedRequest): void {
    if (r.path === '/metrics') return; // the scrape endpoint never counts itself
    let byPath = this.routes.get(r.method);
    if (byPath === undefined) {
      byPath = new Map();
      this.routes.set(r.method, byPath);
    }
    let series = byPath.get(r.path);
    if (series === undefined) {
      series = new RouteSeries();
      byPath.set(r.path, series);
    }
    series.statuses.set(r.status, (series.statuses.get(r.status) ?? 0) + 1);
    series.duration.observe(r.durationSeconds);
    if (r.bytesReceived > 0) {
      series.requestSize.observe(r.bytesReceived);
      this.bytesReceived += r.bytesReceived;
    }
    if (r.bytesSent > 0) {
      series.responseSize.observe(r.bytesSent);
      this.bytesSent += r.bytesSent;
    }
    if (r.operation !== undefined) {
      const counts = r.status < 400 ? this.operationSuccess : this.operationError;
      counts.set(r.operation, (counts.get(r.operation) ?? 0) + 1);
    }
  }

  private *routeHistograms(pick: (r: RouteSeries) => HistogramSeries): Iterable<[Labels, HistogramSeries]> {
    for (const [method, byPath] of this.routes) {
      for (const [path, series] of byPath) yield [{ method, path }, pick(series)];
    }
  }

  private requestSamples(): Sample[] {
    const out: Sample[] = [];
    for (const [method, byPath] of this.routes) {
      for (const [path, series] of byPath) {
        for (const [status, n] of series.statuses) out.push({ labels: { method, path, status: String(status) }, value: n });
      }
    }
    return out;
  }

  private operationSamples(): Sample[] {
    const out: Sample[] = [];
    for (const [operation, n] of this.operationSuccess) out.push({ labels: { operation, status: 'success' }, value: n });
    for (const [operation, n] of this.operationError) out.push({ labels: { operation, status: 'error' }, value: n });
    return out;
  }
}
