// Builds the configured metadata engine, initialises it and wraps it in the actor that the rest
// of the process talks to (metadata.md §10). The cloud engines load lazily, so their SDKs cost
// nothing unless selected.
import type { Config } from '../config.js';
import { MetadataActor } from './actor.js';
import { LocalJsonlMetadataStore } from './local-jsonl.js';
import { MemoryMetadataStore } from './memory.js';
import { SqliteMetadataStore } from './sqlite.js';
import type { MetadataStore } from './types.js';

/** The configured engine, not yet initialised. */
export async function createMetadataEngine(config: Config): Promise<MetadataStore> {
  const metadata = config.metadata;
  switch (metadata.engine) {
    case 'sqlite':
      return new SqliteMetadataStore(metadata.sqlite.path);
    case 'memory':
      return new MemoryMetadataStore();
    case 'local':
      return new LocalJsonlMetadataStore({ rootDir: metadata.local.root_dir, compactOnStartup: metadata.local.compact_on_startup });
    case 'dynamodb':
      return new (await import('./dynamodb.js')).DynamoDbMetadataStore(metadata.dynamodb);
    case 'firestore':
      return new (await import('./firestore.js')).FirestoreMetadataStore(metadata.firestore);
    case 'cosmos':
      return new (await import('./cosmos.js')).CosmosMetadataStore(metadata.cosmos);
  }
}

export async function openMetadataStore(config: Config): Promise<MetadataActor> {
  const engine = await createMetadataEngine(config);
  await engine.init();
  return new MetadataActor(engine);
}
