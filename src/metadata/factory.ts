// Builds the configured metadata engine, initialises it and wraps it in the actor that the rest
// of the process talks to (metadata.md §10).
import type { Config } from '../config.js';
import { MetadataActor } from './actor.js';
import { LocalJsonlMetadataStore } from './local-jsonl.js';
import { MemoryMetadataStore } from './memory.js';
import { SqliteMetadataStore } from './sqlite.js';
import type { MetadataStore } from './types.js';

function createEngine(config: Config): MetadataStore {
  const engine = config.metadata.engine;
  switch (engine) {
    case 'sqlite':
      return new SqliteMetadataStore(config.metadata.sqlite.path);
    case 'memory':
      return new MemoryMetadataStore();
    case 'local':
      return new LocalJsonlMetadataStore({ rootDir: config.metadata.local.root_dir, compactOnStartup: config.metadata.local.compact_on_startup });
    default:
      throw new Error(`metadata engine ${engine} is not available yet`);
  }
}

export async function openMetadataStore(config: Config): Promise<MetadataActor> {
  const engine = createEngine(config);
  await engine.init();
  return new MetadataActor(engine);
}
