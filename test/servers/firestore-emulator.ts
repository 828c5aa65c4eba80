// Test peer for the Firestore metadata engine: the gcloud Cloud Firestore emulator from the Debian
// package google-cloud-cli-firestore-emulator (part of the machine image; the project cannot
// install it), run on the image's Java 17 and bound to 127.0.0.1 (test-servers.md §2).
//
// The engine's config has no emulator key: the Firestore SDK finds the emulator through the
// FIRESTORE_EMULATOR_HOST environment variable. start() sets it in this test process, so the
// in-process engines and every server child process the e2e harness spawns (children inherit the
// environment) talk to this emulator; stop() restores the previous value.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, spawnPeer } from './process.js';
import type { ConfigPatch, TestPeer } from './types.js';

const PACKAGE = 'google-cloud-cli-firestore-emulator';
const MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';
export const EMULATOR_PROJECT = 'demo-bleepstore';

function missing(detail: string): Error {
  return new Error(
    `Firestore emulator unavailable: ${detail}. The Debian package ${PACKAGE} (part of the machine image; ` +
      'it cannot be installed by the project) must be installed to test the firestore metadata engine.',
  );
}

function dpkg(args: string[]): string {
  try {
    return execFileSync('dpkg-query', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw missing(`dpkg-query ${args.join(' ')} failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
}

/** The emulator jar listed by the package, and the package version. */
function locateEmulator(): { jar: string; version: string } {
  const version = dpkg(['-W', '-f=${Version}', PACKAGE]).trim();
  const jar = dpkg(['-L', PACKAGE])
    .split('\n')
    .find((line) => line.endsWith('/cloud-firestore-emulator.jar'));
  if (jar === undefined) throw missing(`package ${PACKAGE} ${version} lists no cloud-firestore-emulator.jar`);
  if (!existsSync(jar)) throw missing(`${jar} (from package ${PACKAGE}) does not exist`);
  return { jar, version };
}

export async function start(): Promise<TestPeer> {
  const { jar, version } = locateEmulator();
  const port = await freePort();
  const server = await spawnPeer({
    name: 'Cloud Firestore emulator',
    command: 'java',
    args: ['-Duser.language=en', '-cp', jar, MAIN_CLASS, 'start', '--host=127.0.0.1', `--port=${port}`],
    port,
  });

  const previousHost = process.env.FIRESTORE_EMULATOR_HOST;
  process.env.FIRESTORE_EMULATOR_HOST = `127.0.0.1:${port}`;

  return {
    name: `Cloud Firestore emulator (${PACKAGE} ${version})`,
    unsupported: {},
    // Collections need no creation: the namespace is a collection named after the id (ids are
    // lowercase letters, digits and '-', which are valid collection ids), empty until written.
    async namespace(id: string): Promise<ConfigPatch> {
      return { metadata: { engine: 'firestore', firestore: { collection: `ns-${id}`, project: EMULATOR_PROJECT, credentials_file: '' } } };
    },
    async stop() {
      if (process.env.FIRESTORE_EMULATOR_HOST === `127.0.0.1:${port}`) {
        if (previousHost === undefined) delete process.env.FIRESTORE_EMULATOR_HOST;
        else process.env.FIRESTORE_EMULATOR_HOST = previousHost;
      }
      await server.stop();
    },
  };
}
