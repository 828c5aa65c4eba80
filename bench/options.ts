// Command line of the load benchmark (`npm run bench`, `bleepstore-bench`): the full profile,
// the --quick profile, and per-figure overrides.
import { parseArgs } from 'node:util';
import { parseSize } from './table.js';

export type Engine = 'uws' | 'node';
export type Workload = 'small' | 'mixed' | 'large' | 'multipart' | 'list';
export const ALL_WORKLOADS: readonly Workload[] = ['small', 'mixed', 'large', 'multipart', 'list'];
export type PopulateMode = 'auto' | 'http' | 'sqlite';

export const USAGE = `Usage: bleepstore-bench [options]        (npm run bench -- [options])
With no options: for each HTTP engine (uws, node), runs every workload against a trivial static
server on that engine (the ceiling) and then against a BleepStore started on a temporary
directory, and prints each figure beside the ceiling's. With --endpoint it measures that S3
server instead.

Profiles
  --quick                  a ~1 minute run: short phases, 64 MiB objects, 10,000-key listing only
Workloads
  --workloads LIST         any of small,mixed,large,multipart,list (default: all)
  --duration SECS          each timed phase on the server under test (default 5; quick 0.6)
  --ceiling-duration SECS  each timed phase on the ceiling (default 2; quick 0.4)
  --max-ops N              count bound of every timed phase (default 200000)
  --concurrency LIST       small-object PUT/GET/HEAD/DELETE concurrencies (default 1,16,64)
  --small-size SIZE        small object size (default 4KiB)
  --mixed-concurrency N    concurrency of the GET/PUT mix (default 16)
  --read-percent N         share of GETs in the mix (default 70)
  --large-size SIZE        the single large object (default 256MiB; quick 64MiB)
  --large-repeat N         run each large PUT/GET N times, report the median run (default 3; quick 1)
  --parallel SIZExN        also N large objects at once, one per connection (default: off)
  --multipart SIZE/PART    multipart upload size and part size (default 512MiB/8MiB; quick 64MiB/8MiB)
  --parts-in-flight N      concurrent UploadPart requests (default 4)
  --list-keys LIST         ListObjectsV2 bucket sizes (default 10000,100000; quick 10000)
  --keys-per-prefix N      keys under each prefix of a list bucket (default 100: 100,000 keys
                           under 1,000 prefixes)
  --list-concurrency N     concurrent listing walks (default 1)
  --populate MODE          how list buckets are filled: http (parallel 0-byte PUTs), sqlite
                           (metadata written directly before the server starts; only for a
                           BleepStore this bench starts), auto (sqlite there, http otherwise)
  --populate-concurrency N concurrent PUTs when populating over HTTP (default 64)
  --populate-timeout SECS  time bound of populating over HTTP (default 900)
Targets
  --engines LIST           HTTP engines to run BleepStore and the ceiling on (default uws,node)
  --no-ceiling             skip the ceiling runs
  --endpoint URL           measure this S3 server (http://host:port, path-style) instead
  --access-key K --secret-key S --region R   credentials (default bleepstore/bleepstore-secret/us-east-1)
  --server-pid PID         with --endpoint: read that process's CPU time and RSS (same machine)
  --ceiling ENGINE         with --endpoint: also run the ceiling on ENGINE (uws|node)
Output
  --json FILE              also write every figure as JSON
  --quiet                  no progress on stderr or the terminal
SIZE accepts binary suffixes: 4k, 4KiB, 256MiB, 1g.`;

export interface Options {
  quick: boolean;
  workloads: ReadonlySet<Workload>;
  durationMs: number;
  ceilingDurationMs: number;
  maxOps: number;
  concurrencies: number[];
  smallSize: number;
  mixedConcurrency: number;
  readPercent: number;
  largeSize: number;
  largeRepeat: number;
  parallel: { size: number; count: number } | undefined;
  multipartSize: number;
  partSize: number;
  partsInFlight: number;
  listKeys: number[];
  keysPerPrefix: number;
  listConcurrency: number;
  populate: PopulateMode;
  populateConcurrency: number;
  populateTimeoutMs: number;
  engines: Engine[];
  ceiling: boolean;
  endpoint: URL | undefined;
  accessKey: string;
  secretKey: string;
  region: string;
  serverPid: number | undefined;
  ceilingEngine: Engine | undefined;
  json: string | undefined;
  quiet: boolean;
}

export function parseEngine(e: string): Engine {
  if (e !== 'uws' && e !== 'node') throw new Error(`engine must be uws or node, got ${e}`);
  return e;
}

function positiveInts(text: string, flag: string): number[] {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${flag} must be a list of positive integers`);
  return list;
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`${flag} must be a positive number`);
  return n;
}

/** Parses argv; prints usage and exits on --help. */
export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      workloads: { type: 'string' },
      duration: { type: 'string' },
      'ceiling-duration': { type: 'string' },
      'max-ops': { type: 'string', default: '200000' },
      concurrency: { type: 'string', default: '1,16,64' },
      'small-size': { type: 'string', default: '4KiB' },
      'mixed-concurrency': { type: 'string', default: '16' },
      'read-percent': { type: 'string', default: '70' },
      'large-size': { type: 'string' },
      'large-repeat': { type: 'string' },
      parallel: { type: 'string' },
      multipart: { type: 'string' },
      'parts-in-flight': { type: 'string', default: '4' },
      'list-keys': { type: 'string' },
      'keys-per-prefix': { type: 'string', default: '100' },
      'list-concurrency': { type: 'string', default: '1' },
      populate: { type: 'string', default: 'auto' },
      'populate-concurrency': { type: 'string', default: '64' },
      'populate-timeout': { type: 'string', default: '900' },
      engines: { type: 'string', default: 'uws,node' },
      'no-ceiling': { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      'access-key': { type: 'string', default: 'bleepstore' },
      'secret-key': { type: 'string', default: 'bleepstore-secret' },
      region: { type: 'string', default: 'us-east-1' },
      'server-pid': { type: 'string' },
      ceiling: { type: 'string' },
      json: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const quick = values.quick;
  const pick = (given: string | undefined, full: string, short: string): string => given ?? (quick ? short : full);

  const workloads = new Set<Workload>();
  for (const w of (values.workloads ?? ALL_WORKLOADS.join(',')).split(',')) {
    if (!ALL_WORKLOADS.includes(w as Workload)) throw new Error(`unknown workload ${w} (expected ${ALL_WORKLOADS.join(', ')})`);
    workloads.add(w as Workload);
  }
  let parallel: Options['parallel'];
  if (values.parallel !== undefined) {
    const m = /^(.+)x(\d+)$/i.exec(values.parallel);
    if (!m) throw new Error('--parallel must look like 16MiBx16');
    parallel = { size: parseSize(m[1] as string), count: Number(m[2]) };
  }
  const mp = /^([^/]+)\/([^/]+)$/.exec(pick(values.multipart, '512MiB/8MiB', '64MiB/8MiB'));
  if (!mp) throw new Error('--multipart must look like 512MiB/8MiB');
  const partSize = parseSize(mp[2] as string);
  if (partSize < 5 * 1024 * 1024) throw new Error('--multipart part size must be at least 5 MiB (the S3 minimum for all but the last part)');
  const populate = values.populate;
  if (populate !== 'auto' && populate !== 'http' && populate !== 'sqlite') throw new Error('--populate must be auto, http or sqlite');
  const endpoint = values.endpoint === undefined ? undefined : new URL(values.endpoint);
  if (endpoint && endpoint.protocol !== 'http:') throw new Error('--endpoint must be an http:// URL (the raw-socket generator does not speak TLS)');
  if (endpoint && populate === 'sqlite') throw new Error('--populate sqlite writes the data directory of a BleepStore this bench starts; use http with --endpoint');
  const readPercent = Number(values['read-percent']);
  if (!(readPercent >= 0 && readPercent <= 100)) throw new Error('--read-percent must be 0..100');

  return {
    quick,
    workloads,
    durationMs: positive(pick(values.duration, '5', '0.6'), '--duration') * 1000,
    ceilingDurationMs: positive(pick(values['ceiling-duration'], '2', '0.4'), '--ceiling-duration') * 1000,
    maxOps: positive(values['max-ops'], '--max-ops'),
    concurrencies: positiveInts(values.concurrency, '--concurrency'),
    smallSize: parseSize(values['small-size']),
    mixedConcurrency: positiveInts(values['mixed-concurrency'], '--mixed-concurrency')[0] as number,
    readPercent,
    largeSize: parseSize(pick(values['large-size'], '256MiB', '64MiB')),
    largeRepeat: positiveInts(pick(values['large-repeat'], '3', '1'), '--large-repeat')[0] as number,
    parallel,
    multipartSize: parseSize(mp[1] as string),
    partSize,
    partsInFlight: positiveInts(values['parts-in-flight'], '--parts-in-flight')[0] as number,
    listKeys: positiveInts(pick(values['list-keys'], '10000,100000', '10000'), '--list-keys'),
    keysPerPrefix: positiveInts(values['keys-per-prefix'], '--keys-per-prefix')[0] as number,
    listConcurrency: positiveInts(values['list-concurrency'], '--list-concurrency')[0] as number,
    populate,
    populateConcurrency: positiveInts(values['populate-concurrency'], '--populate-concurrency')[0] as number,
    populateTimeoutMs: positive(values['populate-timeout'], '--populate-timeout') * 1000,
    engines: values.engines.split(',').map(parseEngine),
    ceiling: !values['no-ceiling'],
    endpoint,
    accessKey: values['access-key'],
    secretKey: values['secret-key'],
    region: values.region,
    serverPid: values['server-pid'] === undefined ? undefined : Number(values['server-pid']),
    ceilingEngine: values.ceiling === undefined ? undefined : parseEngine(values.ceiling),
    json: values.json,
    quiet: values.quiet,
  };
}
