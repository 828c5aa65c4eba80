// Builds the configured storage backend (spec/storage.md: `storage.backend`) and runs its init().
import type { Config } from '../config.js';
import { LocalStorage } from './local.js';
import { MemoryStorage } from './memory.js';
import type { StorageBackend } from './types.js';

/**
 * `storage.memory.max_size_bytes` (0 = unlimited). Read defensively: Config does not declare a
 * `storage.memory` section yet.
 */
function memoryMaxSizeBytes(config: Config): number {
  const storage: { backend: string; memory?: { max_size_bytes?: unknown } } = config.storage;
  const max = storage.memory?.max_size_bytes;
  return typeof max === 'number' && Number.isFinite(max) && max > 0 ? max : 0;
}

export async function openStorage(config: Config): Promise<StorageBackend> {
  let backend: StorageBackend;
  switch (config.storage.backend) {
    case 'local':
      backend = new LocalStorage(config.storage.local.root_dir);
      break;
    case 'memory':
      backend = new MemoryStorage({ maxSizeBytes: memoryMaxSizeBytes(config) });
      break;
    default:
      throw new Error(`storage backend ${config.storage.backend} is not available yet`);
  }
  await backend.init();
  return backend;
}
