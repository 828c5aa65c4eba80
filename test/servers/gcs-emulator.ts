// Test peer for the gcp storage backend: the firebase-tools 15.34.2 Storage emulator, started
// standalone on 127.0.0.1 by test/servers/gcs/launcher.cjs (no Java needed). firebase-tools lives
// in its own package, test/servers/gcs, installed with `npm ci --ignore-scripts`.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnPeer } from './process.js';
import type { ConfigPatch, TestPeer } from './types.js';

const FIREBASE_TOOLS_VERSION = '15.34.2';
export const GCS_TEST_PROJECT = 'demo-bleepstore';
/** Every namespace is a prefix `{id}/` in this one emulator bucket (the emulator creates buckets on first use). */
export const GCS_TEST_BUCKET = 'bleepstore-test';
const INSTALL_COMMAND = 'cd test/servers/gcs && npm ci --ignore-scripts';

/** test/servers/gcs, whether this runs from the sources or from dist/test/servers. */
function serverPackageDir(): string {
  const candidates = [new URL('./gcs/', import.meta.url), new URL('../../../test/servers/gcs/', import.meta.url)].map((u) => fileURLToPath(u));
  const dir = candidates.find((d) => existsSync(join(d, 'launcher.cjs')));
  if (dir === undefined) throw new Error(`GCS emulator launcher not found (looked in ${candidates.join(', ')})`);
  return dir;
}

function assertInstalled(dir: string): void {
  const manifest = join(dir, 'node_modules', 'firebase-tools', 'package.json');
  if (!existsSync(manifest)) {
    throw new Error(`firebase-tools ${FIREBASE_TOOLS_VERSION} (the GCS test server) is not installed; run: ${INSTALL_COMMAND}`);
  }
  const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
  if (version !== FIREBASE_TOOLS_VERSION) {
    throw new Error(`firebase-tools ${version} is installed for the GCS test server, ${FIREBASE_TOOLS_VERSION} is required (the launcher uses its internals); run: ${INSTALL_COMMAND}`);
  }
}

export async function start(): Promise<TestPeer> {
  const dir = serverPackageDir();
  assertInstalled(dir);
  // The emulator keeps blobs under $TMPDIR/firebase/storage/blobs: a private TMPDIR keeps
  // concurrent instances apart and makes cleanup one rm.
  const blobDir = await mkdtemp(join(tmpdir(), 'bleepstore-gcs-emulator-'));
  const port = await freePort();
  let server;
  try {
    server = await spawnPeer({
      name: `firebase-tools ${FIREBASE_TOOLS_VERSION} Storage emulator`,
      command: process.execPath,
      args: [join(dir, 'launcher.cjs'), String(port), GCS_TEST_PROJECT],
      port,
      cwd: dir,
      env: { ...process.env, TMPDIR: blobDir },
    });
  } catch (e) {
    await rm(blobDir, { recursive: true, force: true });
    throw e;
  }
  // The SDK reads this when a Storage client is constructed (with the scheme; apiEndpoint would
  // add /storage/v1, under which the emulator lacks copy). Server child processes inherit it.
  const previousHost = process.env.STORAGE_EMULATOR_HOST;
  process.env.STORAGE_EMULATOR_HOST = `http://127.0.0.1:${port}`;

  return {
    name: `firebase-tools ${FIREBASE_TOOLS_VERSION} Storage emulator`,
    // Multipart assembly works here through GcpStorage's streaming fallback: the emulator has no
    // compose (it answers 501). Compose itself is therefore NOT exercised by this peer; its exact
    // requests are verified by the recording fake GCS in test/gcp-storage.test.ts.
    unsupported: {},
    async namespace(id: string): Promise<ConfigPatch> {
      return { storage: { backend: 'gcp', gcp: { bucket: GCS_TEST_BUCKET, project: GCS_TEST_PROJECT, prefix: `${id}/`, credentials_file: '' } } };
    },
    async stop(): Promise<void> {
      await server.stop();
      if (process.env.STORAGE_EMULATOR_HOST === `http://127.0.0.1:${port}`) {
        if (previousHost === undefined) delete process.env.STORAGE_EMULATOR_HOST;
        else process.env.STORAGE_EMULATOR_HOST = previousHost;
      }
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}
