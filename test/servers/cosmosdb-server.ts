// @vercel/cosmosdb-server 1.0.1 behind the cosmos metadata engine (notes: test-servers.md §3):
// an in-memory Cosmos DB SQL API over plain HTTP. Each namespace is its own container in the
// database 'bleepstore'; the engine's init() creates it. The server's transactional batch is not
// atomic (a failing op does not roll back the others), so atomicity is tested at unit level in
// test/cosmos-engine.test.ts.
import { createRequire } from 'node:module';
import { freePort, spawnPeer } from './process.js';
import type { ConfigPatch, TestPeer } from './types.js';

/** Any base64 string: the server does not check signatures, the SDK only needs a decodable key. */
export const COSMOS_TEST_KEY = Buffer.from('bleepstore-cosmos-test-key').toString('base64');
export const COSMOS_TEST_DATABASE = 'bleepstore';

function serverCli(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('@vercel/cosmosdb-server/lib/cli.js');
  } catch (e) {
    throw new Error(
      `@vercel/cosmosdb-server is not installed (npm install --save-dev @vercel/cosmosdb-server@1.0.1): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Container ids may not contain / \ ? # and are at most 255 characters. */
export function containerNameFor(id: string): string {
  return `ns-${id}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 255);
}

export async function start(): Promise<TestPeer> {
  const cli = serverCli();
  const port = await freePort();
  const proc = await spawnPeer({
    name: '@vercel/cosmosdb-server',
    command: process.execPath,
    args: [cli, '--host', '127.0.0.1', '-p', String(port), '--no-ssl'],
    port,
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    name: '@vercel/cosmosdb-server 1.0.1',
    unsupported: { 'atomic-batch': 'transactional batch is not atomic in @vercel/cosmosdb-server' },
    async namespace(id: string): Promise<ConfigPatch> {
      return {
        metadata: {
          engine: 'cosmos',
          cosmos: { database: COSMOS_TEST_DATABASE, container: containerNameFor(id), endpoint, master_key: COSMOS_TEST_KEY, connection_string: '' },
        },
      };
    },
    async stop() {
      await proc.stop();
    },
  };
}
