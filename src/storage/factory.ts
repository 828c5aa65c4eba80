// Builds the configured storage backend (spec/storage.md: `storage.backend`) and runs its init().
import type { Config } from '../config.js';
import { LocalStorage } from './local.js';
import { MemoryStorage } from './memory.js';
import type { StorageBackend } from './types.js';

export async function openStorage(config: Config): Promise<StorageBackend> {
  let backend: StorageBackend;
  switch (config.storage.backend) {
    case 'local':
      backend = new LocalStorage(config.storage.local.root_dir);
      break;
    case 'memory':
      backend = new MemoryStorage({ maxSizeBytes: config.storage.memory.max_size_bytes });
      break;
    default:
      throw new Error(`storage backend ${config.storage.backend} is not available yet`);
  }
  await backend.init();
  return backend;
}
