// The registry of test peers: which real server stands behind each cloud metadata engine and
// storage backend in the tests. Modules load lazily so a suite starts only what it uses.
import type { TestContext } from 'node:test';
import type { PeerFeature, TestPeer } from './types.js';

export type CloudMetadataEngine = 'dynamodb' | 'firestore' | 'cosmos';
export type CloudStorageBackend = 'aws' | 'gcp' | 'azure';

/** Every peer: one per cloud engine/backend, plus s3rver as a second S3 target for the aws gateway. */
export type PeerName = CloudMetadataEngine | CloudStorageBackend | 'aws-s3rver';

const STARTERS: Record<PeerName, () => Promise<TestPeer>> = {
  dynamodb: async () => (await import('./dynamodb-local.js')).start(),
  firestore: async () => (await import('./firestore-emulator.js')).start(),
  cosmos: async () => (await import('./cosmosdb-server.js')).start(),
  aws: async () => (await import('./s3-peer.js')).start(),
  'aws-s3rver': async () => (await import('./s3rver.js')).start(),
  gcp: async () => (await import('./gcs-emulator.js')).start(),
  azure: async () => (await import('./azurite.js')).start(),
};

export const CLOUD_METADATA_ENGINES: readonly CloudMetadataEngine[] = ['dynamodb', 'firestore', 'cosmos'];
export const CLOUD_STORAGE_BACKENDS: readonly CloudStorageBackend[] = ['aws', 'gcp', 'azure'];

export function isCloudMetadataEngine(name: string): name is CloudMetadataEngine {
  return (CLOUD_METADATA_ENGINES as readonly string[]).includes(name);
}
export function isCloudStorageBackend(name: string): name is CloudStorageBackend {
  return (CLOUD_STORAGE_BACKENDS as readonly string[]).includes(name);
}

/** Starts the real server for one cloud engine or backend. Missing software throws, never skips. */
export function startPeer(name: PeerName): Promise<TestPeer> {
  return STARTERS[name]();
}

/**
 * Skips the running test, with the peer's stated reason, when the peer's server cannot exercise
 * `feature`. Returns true when skipped (the test should return at once).
 */
export function peerSkip(t: TestContext, peer: TestPeer | undefined, feature: PeerFeature): boolean {
  const reason = peer?.unsupported[feature];
  if (reason === undefined) return false;
  t.skip(`${peer?.name}: ${reason}`);
  return true;
}
