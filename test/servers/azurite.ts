// Azurite 3.37.0 (blob service only) behind the azure storage gateway (notes: test-servers.md §4).
// Each namespace is its own container in Azurite's development account. Azurite supports every
// call the gateway makes (Put Block From URL with a range included), so nothing is unsupported.
// --skipApiVersionCheck keeps a newer @azure/storage-blob (newer x-ms-version) working.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { freePort, spawnPeer } from './process.js';
import type { ConfigPatch, TestPeer } from './types.js';

/** Azurite's published development account (not a secret). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;
}

/** A valid container name from a namespace id: 3-63 of [a-z0-9-], no leading, trailing or double '-'. */
export function containerNameFor(id: string): string {
  let name = id.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (name.length < 3) name = `ns-${name}`.replace(/-$/, '').padEnd(3, '0');
  return name.slice(0, 63).replace(/-$/, '');
}

function azuritePackage(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('azurite/package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return { dir: dirname(manifest), version };
}

export async function start(): Promise<TestPeer> {
  const { dir: azuriteDir, version } = azuritePackage();
  const dataDir = await mkdtemp(join(tmpdir(), 'bleepstore-azurite-'));
  const port = await freePort();
  const proc = await spawnPeer({
    name: 'Azurite',
    command: process.execPath,
    args: [
      join(azuriteDir, 'dist', 'src', 'blob', 'main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dataDir,
      '--silent',
      '--disableTelemetry',
      '--skipApiVersionCheck',
    ],
    port,
  });
  const connectionString = azuriteConnectionString(port);
  const service = BlobServiceClient.fromConnectionString(connectionString);

  return {
    name: `Azurite ${version}`,
    unsupported: {},
    async namespace(id: string): Promise<ConfigPatch> {
      const container = containerNameFor(id);
      await service.getContainerClient(container).createIfNotExists();
      return {
        storage: {
          backend: 'azure',
          azure: { container, connection_string: connectionString, account: '', account_url: '', prefix: '', use_managed_identity: false },
        },
      };
    },
    async stop() {
      await proc.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
