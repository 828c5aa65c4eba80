// Configuration: defaults <- YAML file <- CLI flags (spec/operations.md §1-2).
// Unknown keys are ignored so one YAML file serves every BleepStore implementation.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type HttpEngineName = 'uws' | 'node';
export type MetadataEngineName = 'sqlite' | 'memory' | 'local' | 'dynamodb' | 'firestore' | 'cosmos';
export type MemoryPersistence = 'none' | 'snapshot';
export type StorageBackendName = 'local' | 'memory' | 'sqlite' | 'aws' | 'gcp' | 'azure';

export interface Config {
  server: {
    host: string;
    port: number;
    region: string;
    shutdown_timeout: number;
    max_object_size: number;
    virtual_host_domains: string[];
    /** 'uws' by default; falls back to 'node' when uWS cannot load natively. */
    http_engine: HttpEngineName;
    /**
     * Seconds an idle keep-alive connection stays open (node engine; uWS closes idle connections
     * after its fixed ~10 s).
     */
    keep_alive_timeout: number;
    /**
     * Largest request head in bytes (node engine → 400 RequestHeaderSectionTooLarge, connection
     * closed). uWS has fixed limits: heads over 4 KiB split across reads or 48+ headers are dropped.
     */
    max_header_size: number;
    /**
     * Seconds a request body may stall (no bytes while the server is ready for more) before the
     * request fails with 400 RequestTimeout and the connection closes; 0 = never. uWS also drops a
     * connection idle for ~10 s on its own.
     */
    body_idle_timeout: number;
    /** Concurrent client connections (node engine: extra ones are closed at accept); 0 = no limit. */
    max_connections: number;
  };
  logging: { level: string; format: 'text' | 'json' };
  auth: { enabled: boolean; access_key: string; secret_key: string };
  metadata: {
    engine: MetadataEngineName;
    sqlite: { path: string };
    local: { root_dir: string; compact_on_startup: boolean };
    /** The table must exist (metadata.md §7); endpoint_url '' = the AWS endpoint for region. */
    dynamodb: { table: string; region: string; endpoint_url: string };
    /** project '' = GCP_PROJECT / GOOGLE_CLOUD_PROJECT; credentials_file '' = ADC (metadata.md §8). */
    firestore: { collection: string; project: string; credentials_file: string };
    /** endpoint + master_key, or connection_string (metadata.md §9). */
    cosmos: { database: string; container: string; endpoint: string; connection_string: string; master_key: string };
    /** Multipart uploads initiated longer ago than this are reaped at startup (operations.md §3.1). */
    multipart_ttl_seconds: number;
  };
  storage: {
    backend: StorageBackendName;
    local: { root_dir: string };
    memory: {
      max_size_bytes: number;
      /** 'snapshot' saves the data to snapshot_path periodically and at shutdown (storage.md §3). */
      persistence: MemoryPersistence;
      snapshot_path: string;
      /** 0 = snapshot only at shutdown. */
      snapshot_interval_seconds: number;
    };
    /** storage.md §5.1; empty credentials → the AWS default credential chain. */
    aws: {
      bucket: string;
      region: string;
      prefix: string;
      endpoint_url: string;
      use_path_style: boolean;
      access_key_id: string;
      secret_access_key: string;
    };
    /** storage.md §5.2; credentials_file '' = Application Default Credentials. */
    gcp: { bucket: string; project: string; prefix: string; credentials_file: string };
    /** storage.md §5.3; account may be a name or a URL. */
    azure: {
      container: string;
      account: string;
      account_url: string;
      prefix: string;
      connection_string: string;
      use_managed_identity: boolean;
    };
  };
  observability: { metrics: boolean; health_check: boolean };
}

export function defaultConfig(): Config {
  return {
    server: {
      host: '0.0.0.0',
      port: 9000,
      region: 'us-east-1',
      shutdown_timeout: 30,
      max_object_size: 5368709120,
      virtual_host_domains: [],
      http_engine: 'uws',
      keep_alive_timeout: 5,
      max_header_size: 16384,
      body_idle_timeout: 30,
      max_connections: 0,
    },
    logging: { level: 'info', format: 'text' },
    auth: { enabled: true, access_key: 'bleepstore', secret_key: 'bleepstore-secret' },
    metadata: {
      engine: 'sqlite',
      sqlite: { path: './data/metadata.db' },
      local: { root_dir: './data/metadata', compact_on_startup: true },
      dynamodb: { table: 'bleepstore-metadata', region: 'us-east-1', endpoint_url: '' },
      firestore: { collection: 'bleepstore-metadata', project: '', credentials_file: '' },
      cosmos: { database: 'bleepstore', container: 'metadata', endpoint: '', connection_string: '', master_key: '' },
      multipart_ttl_seconds: 604800,
    },
    storage: {
      backend: 'local',
      local: { root_dir: './data/objects' },
      memory: { max_size_bytes: 0, persistence: 'none', snapshot_path: './data/memory.snap', snapshot_interval_seconds: 300 },
      aws: { bucket: '', region: 'us-east-1', prefix: '', endpoint_url: '', use_path_style: false, access_key_id: '', secret_access_key: '' },
      gcp: { bucket: '', project: '', prefix: '', credentials_file: '' },
      azure: { container: '', account: '', account_url: '', prefix: '', connection_string: '', use_managed_identity: false },
    },
    observability: { metrics: true, health_check: true },
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Yaml = Record<string, unknown>;

function section(obj: unknown, name: string): Yaml {
  if (obj && typeof obj === 'object' && name in obj) {
    const v = (obj as Yaml)[name];
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Yaml;
  }
  return {};
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback;
}
function num(v: unknown, fallback: number, what: string): number {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${what} must be a non-negative number, got ${String(v)}`);
  return n;
}
function bool(v: unknown, fallback: boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fallback;
}

const METADATA_ENGINES: readonly MetadataEngineName[] = ['sqlite', 'memory', 'local', 'dynamodb', 'firestore', 'cosmos'];
const STORAGE_BACKENDS: readonly StorageBackendName[] = ['local', 'memory', 'sqlite', 'aws', 'gcp', 'azure'];

/** Merges a parsed YAML document over the defaults. */
export function configFromYaml(doc: unknown): Config {
  const c = defaultConfig();
  const server = section(doc, 'server');
  c.server.host = str(server.host, c.server.host);
  c.server.port = num(server.port, c.server.port, 'server.port');
  c.server.region = str(server.region, c.server.region);
  c.server.shutdown_timeout = num(server.shutdown_timeout, c.server.shutdown_timeout, 'server.shutdown_timeout');
  c.server.max_object_size = num(server.max_object_size, c.server.max_object_size, 'server.max_object_size');
  if (Array.isArray(server.virtual_host_domains)) {
    c.server.virtual_host_domains = server.virtual_host_domains.filter((d): d is string => typeof d === 'string');
  }
  const engine = str(server.http_engine, c.server.http_engine);
  if (engine !== 'uws' && engine !== 'node') throw new ConfigError(`server.http_engine must be uws or node, got ${engine}`);
  c.server.http_engine = engine;
  c.server.keep_alive_timeout = num(server.keep_alive_timeout, c.server.keep_alive_timeout, 'server.keep_alive_timeout');
  c.server.max_header_size = num(server.max_header_size, c.server.max_header_size, 'server.max_header_size');
  c.server.body_idle_timeout = num(server.body_idle_timeout, c.server.body_idle_timeout, 'server.body_idle_timeout');
  c.server.max_connections = num(server.max_connections, c.server.max_connections, 'server.max_connections');

  // Python keeps log settings under server.*, Go/Rust under logging.*; accept both.
  const logging = section(doc, 'logging');
  c.logging.level = str(logging.level ?? server.log_level, c.logging.level).toLowerCase();
  const format = str(logging.format ?? server.log_format, c.logging.format).toLowerCase();
  c.logging.format = format === 'json' ? 'json' : 'text';

  const auth = section(doc, 'auth');
  c.auth.enabled = bool(auth.enabled, c.auth.enabled);
  c.auth.access_key = str(auth.access_key, c.auth.access_key);
  c.auth.secret_key = str(auth.secret_key, c.auth.secret_key);

  const metadata = section(doc, 'metadata');
  const me = str(metadata.engine, c.metadata.engine) as MetadataEngineName;
  if (!METADATA_ENGINES.includes(me)) throw new ConfigError(`unknown metadata.engine: ${me}`);
  c.metadata.engine = me;
  c.metadata.sqlite.path = str(section(metadata, 'sqlite').path, c.metadata.sqlite.path);
  const local = section(metadata, 'local');
  c.metadata.local.root_dir = str(local.root_dir, c.metadata.local.root_dir);
  c.metadata.local.compact_on_startup = bool(local.compact_on_startup, c.metadata.local.compact_on_startup);
  const dynamodb = section(metadata, 'dynamodb');
  c.metadata.dynamodb.table = str(dynamodb.table ?? dynamodb.table_prefix, c.metadata.dynamodb.table);
  c.metadata.dynamodb.region = str(dynamodb.region, c.metadata.dynamodb.region);
  c.metadata.dynamodb.endpoint_url = str(dynamodb.endpoint_url, c.metadata.dynamodb.endpoint_url);
  // Python says project, Go/Rust project_id; Rust says collection_prefix.
  const firestore = section(metadata, 'firestore');
  c.metadata.firestore.collection = str(firestore.collection ?? firestore.collection_prefix, c.metadata.firestore.collection);
  c.metadata.firestore.project = str(firestore.project ?? firestore.project_id, c.metadata.firestore.project);
  c.metadata.firestore.credentials_file = str(firestore.credentials_file, c.metadata.firestore.credentials_file);
  const cosmos = section(metadata, 'cosmos');
  c.metadata.cosmos.database = str(cosmos.database, c.metadata.cosmos.database);
  c.metadata.cosmos.container = str(cosmos.container, c.metadata.cosmos.container);
  c.metadata.cosmos.endpoint = str(cosmos.endpoint, c.metadata.cosmos.endpoint);
  c.metadata.cosmos.connection_string = str(cosmos.connection_string, c.metadata.cosmos.connection_string);
  c.metadata.cosmos.master_key = str(cosmos.master_key ?? cosmos.key, c.metadata.cosmos.master_key);
  c.metadata.multipart_ttl_seconds = num(metadata.multipart_ttl_seconds, c.metadata.multipart_ttl_seconds, 'metadata.multipart_ttl_seconds');

  const storage = section(doc, 'storage');
  const sb = str(storage.backend, c.storage.backend) as StorageBackendName;
  if (!STORAGE_BACKENDS.includes(sb)) throw new ConfigError(`unknown storage.backend: ${sb}`);
  c.storage.backend = sb;
  c.storage.local.root_dir = str(section(storage, 'local').root_dir, c.storage.local.root_dir);
  const memory = section(storage, 'memory');
  c.storage.memory.max_size_bytes = num(memory.max_size_bytes, c.storage.memory.max_size_bytes, 'storage.memory.max_size_bytes');
  const persistence = str(memory.persistence, c.storage.memory.persistence);
  if (persistence !== 'none' && persistence !== 'snapshot') {
    throw new ConfigError(`storage.memory.persistence must be none or snapshot, got ${persistence}`);
  }
  c.storage.memory.persistence = persistence;
  c.storage.memory.snapshot_path = str(memory.snapshot_path, c.storage.memory.snapshot_path);
  c.storage.memory.snapshot_interval_seconds = num(
    memory.snapshot_interval_seconds,
    c.storage.memory.snapshot_interval_seconds,
    'storage.memory.snapshot_interval_seconds',
  );

  const aws = section(storage, 'aws');
  c.storage.aws.bucket = str(aws.bucket, c.storage.aws.bucket);
  c.storage.aws.region = str(aws.region, c.storage.aws.region);
  c.storage.aws.prefix = str(aws.prefix, c.storage.aws.prefix);
  c.storage.aws.endpoint_url = str(aws.endpoint_url, c.storage.aws.endpoint_url);
  c.storage.aws.use_path_style = bool(aws.use_path_style, c.storage.aws.use_path_style);
  c.storage.aws.access_key_id = str(aws.access_key_id, c.storage.aws.access_key_id);
  c.storage.aws.secret_access_key = str(aws.secret_access_key, c.storage.aws.secret_access_key);
  const gcp = section(storage, 'gcp');
  c.storage.gcp.bucket = str(gcp.bucket, c.storage.gcp.bucket);
  c.storage.gcp.project = str(gcp.project ?? gcp.project_id, c.storage.gcp.project);
  c.storage.gcp.prefix = str(gcp.prefix, c.storage.gcp.prefix);
  c.storage.gcp.credentials_file = str(gcp.credentials_file, c.storage.gcp.credentials_file);
  const azure = section(storage, 'azure');
  c.storage.azure.container = str(azure.container, c.storage.azure.container);
  c.storage.azure.account = str(azure.account, c.storage.azure.account);
  c.storage.azure.account_url = str(azure.account_url, c.storage.azure.account_url);
  c.storage.azure.prefix = str(azure.prefix, c.storage.azure.prefix);
  c.storage.azure.connection_string = str(azure.connection_string, c.storage.azure.connection_string);
  c.storage.azure.use_managed_identity = bool(azure.use_managed_identity, c.storage.azure.use_managed_identity);
  requireCloudSettings(c);

  const obs = section(doc, 'observability');
  c.observability.metrics = bool(obs.metrics, c.observability.metrics);
  c.observability.health_check = bool(obs.health_check, c.observability.health_check);
  return c;
}

/** storage.md: a cloud backend without its bucket/container fails startup, before anything opens. */
function requireCloudSettings(c: Config): void {
  const missing =
    c.storage.backend === 'aws' && !c.storage.aws.bucket ? 'storage.aws.bucket'
    : c.storage.backend === 'gcp' && !c.storage.gcp.bucket ? 'storage.gcp.bucket'
    : c.storage.backend === 'azure' && !c.storage.azure.container ? 'storage.azure.container'
    : undefined;
  if (missing) throw new ConfigError(`${missing} is required for storage.backend ${c.storage.backend}`);
  if (c.metadata.engine === 'cosmos' && !c.metadata.cosmos.endpoint && !c.metadata.cosmos.connection_string) {
    throw new ConfigError('metadata.cosmos.endpoint or metadata.cosmos.connection_string is required for metadata.engine cosmos');
  }
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(e as Error).message}`);
  }
  return configFromYaml(doc ?? {});
}
