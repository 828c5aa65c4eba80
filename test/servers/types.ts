// The contract every test peer module in this folder implements: a real server for one cloud
// metadata engine or storage backend, started on 127.0.0.1 by the tests themselves.
import type { Config } from '../../src/config.js';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The config sections (same shape as the YAML file) that point BleepStore at one namespace of a peer. */
export type ConfigPatch = DeepPartial<Pick<Config, 'metadata' | 'storage'>>;

export interface TestPeer {
  /** What runs, with its version, e.g. 'DynamoDB Local 3.3.0'. */
  readonly name: string;
  /**
   * Prepares an isolated namespace (table, collection, container or bucket prefix) named after
   * `id` and returns the config that selects it. Idempotent: the same id again (a restart)
   * returns the same namespace with its data.
   */
  namespace(id: string): Promise<ConfigPatch>;
  /** Stops the server process(es) this peer started, by PID. */
  stop(): Promise<void>;
  /**
   * Features this server cannot exercise, each with the reason, so suites skip exactly those
   * tests with that reason printed (never silently). Feature names: see FEATURES in index.ts.
   */
  readonly unsupported: Readonly<Partial<Record<PeerFeature, string>>>;
}

/** Features some peers lack; a test that needs one asks `peerSkip(feature)` (index.ts). */
export type PeerFeature =
  /** Assembling multipart parts on the backend (GCS compose). */
  | 'multipart-assembly'
  /** Atomic multi-item writes (transactional batch rollback). */
  | 'atomic-batch'
  /** Concurrent writers of one key leave one complete version (s3rver writes object files in place). */
  | 'atomic-overwrite'
  /** Keys stored verbatim, including '..', '.' and empty segments (s3rver maps keys to file paths). */
  | 'raw-keys';
