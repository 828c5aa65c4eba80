// s3rver 3.7.1 as a second S3 target for the aws storage gateway (notes: test-servers.md §6).
// It lacks UploadPartCopy, AbortMultipartUpload, ListParts and ListMultipartUploads; the gateway
// needs none of them to work: it streams parts through itself when UploadPartCopy answers
// NotImplemented and tolerates the missing abort (staged parts stay in s3rver's upload area,
// never visible under a key). What s3rver cannot do is listed in UNSUPPORTED. The legacy OpenSSL
// provider is required: s3rver's ListObjectsV2 continuation tokens use DES.
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, spawnPeer } from './process.js';
import { peerClient, s3Namespaces } from './s3-peer.js';
import type { PeerFeature, TestPeer } from './types.js';

const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';
const PREFIX = 'bleepstore/';

/** s3rver stores each object as a file named after its key (lib/stores/filesystem.js). */
const UNSUPPORTED: Readonly<Partial<Record<PeerFeature, string>>> = {
  'atomic-overwrite':
    'PutObject and CompleteMultipartUpload write the object file in place (createWriteStream on the final path, no temp file + rename), so concurrent writes of one key interleave into a torn object',
  'raw-keys':
    "keys are file paths: 'a/../b' is stored as 'b' (and 'x/../../escape' leaves the key's prefix), and keys with an empty segment ('a//b', '/leading') answer 404 on PUT",
};

function s3rverBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
}

export async function start(): Promise<TestPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'bleepstore-s3rver-'));
  const port = await freePort();
  const proc = await spawnPeer({
    name: 's3rver',
    command: process.execPath,
    args: [s3rverBin(), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'],
    port,
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim() },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = peerClient(endpoint, ACCESS_KEY, SECRET_KEY);

  return {
    name: 's3rver 3.7.1',
    unsupported: UNSUPPORTED,
    namespace: s3Namespaces(client, { endpoint, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, prefix: PREFIX }),
    async stop() {
      client.destroy();
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
