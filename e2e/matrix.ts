// Which metadata engine and storage backend the e2e suite runs against, chosen by environment
// (BLEEPSTORE_E2E_METADATA, BLEEPSTORE_E2E_STORAGE, BLEEPSTORE_E2E_HTTP_ENGINES; e2e/run-all.ts
// sets them per run). Defaults: sqlite + local disk on both HTTP engines. Cloud engines and
// gateways get their real server (test/servers/) started once per test process.
import { basename, join } from 'node:path';
import type { MetadataEngineName, StorageBackendName } from '../src/config.js';
import { isCloudMetadataEngine, isCloudStorageBackend, startPeer, type PeerName } from '../test/servers/index.js';
import type { ConfigPatch, PeerFeature, TestPeer } from '../test/servers/types.js';

export const HTTP_ENGINES = ['uws', 'node'] as const;
export type HttpEngine = (typeof HTTP_ENGINES)[number];

const METADATA_ENGINES: readonly MetadataEngineName[] = ['sqlite', 'memory', 'local', 'dynamodb', 'firestore', 'cosmos'];
const STORAGE_BACKENDS: readonly StorageBackendName[] = ['local', 'memory', 'sqlite', 'aws', 'gcp', 'azure'];

function pick<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${name}=${value}: expected one of ${allowed.join(', ')}`);
  return value as T;
}

export const METADATA: MetadataEngineName = pick('BLEEPSTORE_E2E_METADATA', process.env.BLEEPSTORE_E2E_METADATA, METADATA_ENGINES, 'sqlite');
export const STORAGE: StorageBackendName = pick('BLEEPSTORE_E2E_STORAGE', process.env.BLEEPSTORE_E2E_STORAGE, STORAGE_BACKENDS, 'local');
export const SELECTED_HTTP_ENGINES: readonly HttpEngine[] = (process.env.BLEEPSTORE_E2E_HTTP_ENGINES ?? 'uws,node')
  .split(',')
  .filter((e) => e !== '')
  .map((e) => pick('BLEEPSTORE_E2E_HTTP_ENGINES', e, HTTP_ENGINES, 'uws'));

/** True for the default run (sqlite + local), where tests that do not depend on the engines run. */
export const IS_DEFAULT_RUN = METADATA === 'sqlite' && STORAGE === 'local';
/** Label for test titles and messages, e.g. 'metadata dynamodb, storage local'. */
export const MATRIX_LABEL = `metadata ${METADATA}, storage ${STORAGE}`;

// ---- reasons a test does not apply to this run (tests pass them to `skip`, so they are printed) ----

/** Tests of process lifecycle or of one engine's own files run once, in the default run. */
export const ONLY_IN_DEFAULT_RUN: string | undefined = IS_DEFAULT_RUN ? undefined : `runs once, with sqlite + local storage (this run: ${MATRIX_LABEL})`;

/** Tests that restart the server and expect the data back. */
export const NEEDS_DURABILITY: string | undefined =
  METADATA === 'memory' ? 'the memory metadata engine keeps nothing across a restart, by design'
  : STORAGE === 'memory' ? 'the memory storage backend (without snapshots) keeps nothing across a restart, by design'
  : undefined;

/** Tests that inspect the local backend's files (.tmp/, the object tree). */
export const NEEDS_LOCAL_STORAGE: string | undefined = STORAGE === 'local' ? undefined : `inspects the local storage backend's files (this run: storage ${STORAGE})`;

/** Tests that check the server streams objects: memory and sqlite storage hold whole objects by design (storage.md §3, §4). */
export const NEEDS_STREAMING_STORAGE: string | undefined =
  STORAGE === 'memory' || STORAGE === 'sqlite' ? `the ${STORAGE} storage backend holds whole objects in memory by design` : undefined;

/**
 * Objects of 1 GiB and more: SQLite cannot hold a BLOB over 1e9 bytes (the server answers
 * EntityTooLarge); the GCS emulator keeps every object in its own memory and moves ~30 MiB/s, so
 * a GiB up, assembled and down outlives any sane test budget (in CI it ran past its 5-minute
 * timeout).
 */
export const NEEDS_GIB_OBJECTS: string | undefined =
  STORAGE === 'sqlite' ? 'the sqlite storage backend stores objects up to 1e9 bytes (SQLite BLOB limit; larger ones answer EntityTooLarge)'
  : STORAGE === 'gcp' ? 'the GCS emulator (firebase-tools) holds objects in its memory at ~30 MiB/s: 1 GiB objects are exercised on the other backends'
  : undefined;

/**
 * The second version of a client (Debian's aws 2.x and boto3 1.26 beside pip's aws 1.x and
 * boto3 1.43): it checks the wire format, which no engine or backend changes, so it runs in the
 * default run only. Every run keeps one version of every client.
 */
export const SECOND_CLIENT_VERSION: string | undefined = IS_DEFAULT_RUN ? undefined : `a second client version checks the wire, not the engines: it runs with sqlite + local storage (this run: ${MATRIX_LABEL})`;

/** Combines reasons: the first that applies. */
export function skipReason(...reasons: (string | undefined)[]): string | undefined {
  return reasons.find((r) => r !== undefined);
}

// ---- cloud peers ----

// Started once per test process and left running: spawnPeer unrefs them, and the process-exit
// hook in test/servers/process.ts kills them by PID when the test file is done.
const peerPromises = new Map<PeerName, Promise<TestPeer>>();

function peer(name: PeerName): Promise<TestPeer> {
  let p = peerPromises.get(name);
  if (!p) {
    p = startPeer(name);
    peerPromises.set(name, p);
  }
  return p;
}

/** Why a feature cannot run against this run's peers, if it cannot. */
export async function peerUnsupported(feature: PeerFeature): Promise<string | undefined> {
  for (const name of [METADATA, STORAGE]) {
    if (!isCloudMetadataEngine(name) && !isCloudStorageBackend(name)) continue;
    const p = await peer(name);
    const reason = p.unsupported[feature];
    if (reason !== undefined) return `${p.name}: ${reason}`;
  }
  return undefined;
}

/**
 * The `metadata` and `storage` config sections (YAML/JSON shape) for a server whose files live in
 * `dataDir`. Cloud namespaces are named after the data dir, so a restart on the same dir finds
 * its data again.
 */
export async function backendSections(dataDir: string): Promise<ConfigPatch> {
  const namespace = basename(dataDir).toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(-40);
  const metadata: Record<string, unknown> = { engine: METADATA };
  if (METADATA === 'sqlite') metadata.sqlite = { path: join(dataDir, 'metadata.db') };
  if (METADATA === 'local') metadata.local = { root_dir: join(dataDir, 'meta'), compact_on_startup: true };
  const storage: Record<string, unknown> = { backend: STORAGE };
  if (STORAGE === 'local') storage.local = { root_dir: join(dataDir, 'objects') };
  if (STORAGE === 'memory') storage.memory = { persistence: 'none' };
  const patch: ConfigPatch = { metadata, storage } as ConfigPatch;
  if (isCloudMetadataEngine(METADATA)) patch.metadata = { ...patch.metadata, ...(await (await peer(METADATA)).namespace(namespace)).metadata };
  if (isCloudStorageBackend(STORAGE)) patch.storage = { ...patch.storage, ...(await (await peer(STORAGE)).namespace(namespace)).storage };
  return patch;
}
