// The S3 target of the aws storage gateway in tests: a second BleepStore process (built
// dist/src/cli.js) on its memory metadata engine and memory storage, with auth on. Each
// namespace is its own bucket on that server, with a key prefix so the prefix mapping is exercised.
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort, spawnPeer } from './process.js';
import type { ConfigPatch, TestPeer } from './types.js';

export const PEER_ACCESS_KEY = 'gateway-peer';
export const PEER_SECRET_KEY = 'gateway-peer-secret';
/** The key prefix every namespace uses inside its bucket. */
export const PEER_PREFIX = 'bleepstore/';

// This file runs from dist/test/servers/, so the CLI is at dist/src/cli.js.
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** A client for the peer itself (what the gateway writes into), for tests that inspect it. */
export function peerClient(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Creates `bucket`, accepting one that already exists (namespace() is idempotent). */
async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    const name = (e as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
  }
}

/** Bucket names: 3-63 of [a-z0-9-], starting and ending with a letter or digit. */
function bucketNameFor(id: string): string {
  return `ns-${id.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');
}

/** Where an S3 target listens, the credentials it accepts, and the key prefix the gateway uses in each bucket. */
export interface S3TargetAccess {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  prefix: string;
}

/** TestPeer.namespace of an S3 target (this peer, s3rver.ts): one bucket per namespace id, created on first use. */
export function s3Namespaces(client: S3Client, target: S3TargetAccess): (id: string) => Promise<ConfigPatch> {
  return async (id) => {
    const bucket = bucketNameFor(id);
    await ensureBucket(client, bucket);
    const { endpoint, accessKeyId, secretAccessKey, prefix } = target;
    return {
      storage: {
        backend: 'aws',
        aws: { bucket, region: 'us-east-1', prefix, endpoint_url: endpoint, use_path_style: true, access_key_id: accessKeyId, secret_access_key: secretAccessKey },
      },
    };
  };
}

async function waitHealthy(endpoint: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`BleepStore peer at ${endpoint} never answered /healthz:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function start(): Promise<TestPeer> {
  if (!existsSync(CLI)) throw new Error(`BleepStore peer: ${CLI} is missing (run tsc first)`);
  const dir = await mkdtemp(join(tmpdir(), 'bleepstore-s3-peer-'));
  const port = await freePort();
  const configPath = join(dir, 'peer.yaml');
  await writeFile(
    configPath,
    stringify({
      server: { host: '127.0.0.1', port },
      logging: { level: 'warn' },
      auth: { enabled: true, access_key: PEER_ACCESS_KEY, secret_key: PEER_SECRET_KEY },
      metadata: { engine: 'memory' },
      storage: { backend: 'memory' },
    }),
  );
  const proc = await spawnPeer({ name: 'BleepStore peer', command: process.execPath, args: [CLI, '--config', configPath], port, cwd: dir });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(endpoint, proc.output);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const client = peerClient(endpoint, PEER_ACCESS_KEY, PEER_SECRET_KEY);

  return {
    name: 'BleepStore (memory metadata + memory storage) as S3 target',
    unsupported: {},
    namespace: s3Namespaces(client, { endpoint, accessKeyId: PEER_ACCESS_KEY, secretAccessKey: PEER_SECRET_KEY, prefix: PEER_PREFIX }),
    async stop() {
      client.destroy();
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
