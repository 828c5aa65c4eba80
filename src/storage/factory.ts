// Builds the configured storage backend (spec/storage.md: `storage.backend`) and runs its init().
// The cloud gateways load lazily, so their SDKs cost nothing unless selected.
import type { Config } from '../config.js';
import { LocalStorage } from './local.js';
import { MemoryStorage } from './memory.js';
import { SqliteStorage } from './sqlite.js';
import type { StorageBackend } from './types.js';

export async function openStorage(config: Config): Promise<StorageBackend> {
  let backend: StorageBackend;
  switch (config.storage.backend) {
    case 'local':
      backend = new LocalStorage(config.storage.local.root_dir);
      break;
    case 'memory': {
      const memory = config.storage.memory;
      backend = new MemoryStorage({
        maxSizeBytes: memory.max_size_bytes,
        snapshot:
          memory.persistence === 'snapshot'
            ? { path: memory.snapshot_path, intervalSeconds: memory.snapshot_interval_seconds }
            : undefined,
      });
      break;
    }
    case 'sqlite':
      // The blobs live in the metadata database file (storage.md §4, metadata.md §10).
      if (config.metadata.engine !== 'sqlite') {
        throw new Error(`storage.backend sqlite requires metadata.engine sqlite (configured: ${config.metadata.engine})`);
      }
      if (config.metadata.sqlite.path === ':memory:') {
        throw new Error('storage.backend sqlite needs metadata.sqlite.path to be a file, not :memory:');
      }
      backend = new SqliteStorage(config.metadata.sqlite.path);
      break;
    case 'aws':
      backend = new (await import('./aws.js')).AwsStorage(config.storage.aws);
      break;
    case 'gcp':
      backend = new (await import('./gcp.js')).GcpStorage(config.storage.gcp);
      break;
    case 'azure':
      backend = new (await import('./azure.js')).AzureStorage(config.storage.azure);
      break;
  }
  await backend.init();
  return backend;
}
