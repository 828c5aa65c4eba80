// Real clients against the real server, once per HTTP engine: aws s3 sync of 1,000 small files
// up and back down, aws s3 cp of 1 GiB (multipart) and back, rclone copy/sync/check, s3cmd sync
// and info, boto3 (Debian 1.26 and pip 1.43) managed transfers over the multipart threshold, the
// JS SDK's lib-storage Upload of 200 MiB with 8 parts in flight, and minio-js fPutObject /
// listObjectsV2 with '+', '%' and unicode keys. Every download is compared byte for byte.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, CreateBucketCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import * as Minio from 'minio';
import { ENGINES, ACCESS_KEY, SECRET_KEY, REGION, startServer, type ServerHandle } from './harness.js';
import { NEEDS_GIB_OBJECTS, SECOND_CLIENT_VERSION } from './matrix.js';
import { clientEnv, runProcess, sdkClient } from './clients.js';
import { makeWorkDir, writeRandomFile, fingerprintFile, fingerprintStream, MiB, type RandomFile } from './files.js';
import {
  awsCli,
  rcloneCli,
  s3cmdCli,
  requireClient,
  writeTree,
  assertTreeEquals,
  PIP_AWS,
  DEBIAN_AWS,
  PIP_PYTHON,
  DEBIAN_PYTHON,
  RCLONE,
  S3CMD,
} from './s3api-helpers.js';

const GiB = 1024 * MiB;
const TREE_FILES = 1000;
/** dist/e2e/x.test.js -> e2e/py/boto3_multipart.py (python files are not compiled) */
const BOTO3_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../e2e/py/boto3_multipart.py');

const work = makeWorkDir('s3api-clients');
// The 1 GiB file is made once, lazily, and shared by both engines.
let bigFile: RandomFile | undefined;
async function oneGiB(): Promise<RandomFile> {
  bigFile ??= await writeRandomFile(work.dir, 'one-gib.bin', GiB);
  return bigFile;
}
// The source tree for aws s3 sync is the same for both engines.
const treeDir = join(work.dir, 'tree');
let tree: Map<string, string>;
before(() => {
  tree = writeTree(treeDir, TREE_FILES, 1234);
});
// The work dir, with the 1 GiB file in it, goes when the file's suites are done.
after(() => work.cleanup());

function sameFingerprint(got: { size: number; sha256: string }, want: RandomFile, what: string): void {
  assert.equal(got.size, want.size, `${what}: size`);
  assert.equal(got.sha256, want.sha256, `${what}: bytes differ`);
}

for (const engine of ENGINES) {
  describe(`s3api clients [${engine}]`, () => {
    let server: ServerHandle;
    const dir = (name: string): string => {
      const d = join(work.dir, `${engine}-${name}`);
      mkdirSync(d, { recursive: true });
      return d;
    };
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => {
      await server?.stop();
    });

    test(`aws s3 sync of ${TREE_FILES} small files up, again (no-op), and back down`, { timeout: 6 * 60_000 }, async (t) => {
      if (!(await requireClient(t, PIP_AWS, ['--version']))) return;
      const aws = awsCli(dir('aws-sync'), PIP_AWS, server.endpoint);
      const bucket = `sync-${engine}`;
      await aws.ok('s3', 'mb', `s3://${bucket}`);
      await aws.ok('s3', 'sync', '--only-show-errors', treeDir, `s3://${bucket}/tree/`);

      const listed = await aws.ok('s3', 'ls', '--recursive', `s3://${bucket}/tree/`);
      assert.equal(listed.trim().split('\n').length, TREE_FILES, 'aws s3 ls --recursive count');
      // A second sync compares the listing (size, LastModified) with the files: nothing to do.
      const again = await aws.ok('s3', 'sync', treeDir, `s3://${bucket}/tree/`);
      assert.equal(again.trim(), '', `second sync transferred files:\n${again.slice(0, 2000)}`);

      const down = dir('aws-sync-down');
      await aws.ok('s3', 'sync', '--only-show-errors', `s3://${bucket}/tree/`, down);
      assertTreeEquals(down, tree, 'aws s3 sync down');

      // Debian's aws 2.x reads the same tree back too (its own listing and GET code).
      if (SECOND_CLIENT_VERSION === undefined && (await requireClient(t, DEBIAN_AWS, ['--version']))) {
        const aws2 = awsCli(dir('aws2-sync'), DEBIAN_AWS, server.endpoint);
        const down2 = dir('aws2-sync-down');
        await aws2.ok('s3', 'sync', '--only-show-errors', `s3://${bucket}/tree/`, down2);
        assertTreeEquals(down2, tree, 'Debian aws s3 sync down');
        const again2 = await aws2.ok('s3', 'sync', treeDir, `s3://${bucket}/tree/`);
        assert.equal(again2.trim(), '', `Debian aws: second sync transferred files:\n${again2.slice(0, 2000)}`);
        rmSync(down2, { recursive: true, force: true });
      }
      rmSync(down, { recursive: true, force: true });
      // Remove everything through the server (DeleteObjects batches), then the bucket.
      await aws.ok('s3', 'rm', '--recursive', '--only-show-errors', `s3://${bucket}/`);
      await aws.ok('s3', 'rb', `s3://${bucket}`);
    });

    test('aws s3 cp of a 1 GiB file (multipart) up and back down', { timeout: 8 * 60_000, skip: NEEDS_GIB_OBJECTS }, async (t) => {
      if (!(await requireClient(t, PIP_AWS, ['--version']))) return;
      const big = await oneGiB();
      const aws = awsCli(dir('aws-big'), PIP_AWS, server.endpoint);
      const bucket = `big-${engine}`;
      await aws.ok('s3', 'mb', `s3://${bucket}`);
      await aws.ok('s3', 'cp', '--only-show-errors', big.path, `s3://${bucket}/one gib+.bin`);
      const head = await aws.json<{ ContentLength: number; ETag: string }>('s3api', 'head-object', '--bucket', bucket, '--key', 'one gib+.bin');
      assert.equal(head.ContentLength, GiB);
      assert.match(head.ETag, /^"[0-9a-f]{32}-\d+"$/, `1 GiB upload was not multipart: ${head.ETag}`);
      const down = join(dir('aws-big'), 'down.bin');
      await aws.ok('s3', 'cp', '--only-show-errors', `s3://${bucket}/one gib+.bin`, down);
      sameFingerprint(await fingerprintFile(down), big, 'aws s3 cp down of 1 GiB');
      unlinkSync(down);
      await aws.ok('s3', 'rm', `s3://${bucket}/one gib+.bin`);
      await aws.ok('s3', 'rb', `s3://${bucket}`);
    });

    test('rclone copy, check, sync up and down', { timeout: 5 * 60_000 }, async (t) => {
      if (!(await requireClient(t, RCLONE, ['version']))) return;
      const base = dir('rclone');
      const rclone = rcloneCli(base, server.endpoint);
      // rclone sends `Expect: 100-Continue` on multipart parts and large PUTs; through uWS each such
      // request stalls ~1 s (platform.md §6), so the tree is few files: small ones plus one
      // 24 MiB file that goes up in two 16 MiB-chunked parts.
      const src = join(base, 'src');
      const files = writeTree(src, 24, 77, { maxSize: 64 * 1024 });
      const large = await writeRandomFile(src, 'large ünï+%.bin', 24 * MiB);
      files.set('large ünï+%.bin', large.sha256);
      const remote = `bleep:rclone-${engine}/data`;
      const flags = ['--s3-upload-cutoff', '16M', '--s3-chunk-size', '16M', '--transfers', '4', '--checkers', '4'];

      await rclone.ok('copy', ...flags, src, remote);
      await rclone.ok('check', src, remote); // size + MD5 (ETag, or X-Amz-Meta-Md5chksum for multipart)
      const lsjson = JSON.parse(await rclone.ok('lsjson', '-R', '--files-only', remote)) as Array<{ Path: string; Size: number }>;
      assert.equal(lsjson.length, files.size, 'rclone lsjson count');

      const down = join(base, 'down');
      await rclone.ok('sync', ...flags, remote, down);
      assertTreeEquals(down, files, 'rclone sync down');

      // Change the source (delete one file, add one), sync up, and check again: the remote follows.
      const [removed] = [...files.keys()].filter((f) => !f.startsWith('large'));
      assert.ok(removed);
      rmSync(join(src, removed));
      files.delete(removed);
      writeFileSync(join(src, 'added later.txt'), 'added\n');
      files.set('added later.txt', '');
      await rclone.ok('sync', ...flags, src, remote);
      await rclone.ok('check', src, remote);
      const after = JSON.parse(await rclone.ok('lsjson', '-R', '--files-only', remote)) as Array<{ Path: string }>;
      assert.deepEqual(after.map((f) => f.Path).sort(), [...files.keys()].sort());
      await rclone.ok('purge', `bleep:rclone-${engine}`);
    });

    test('s3cmd sync up and down, and info', { timeout: 5 * 60_000 }, async (t) => {
      if (!(await requireClient(t, S3CMD, ['--version']))) return;
      const base = dir('s3cmd');
      const s3cmd = s3cmdCli(base, server.endpoint);
      const bucket = `s3cmd-${engine}`;
      const src = join(base, 'src');
      const files = writeTree(src, 60, 99, { maxSize: 32 * 1024 });
      // Over multipart_chunk_size_mb (5): s3cmd uploads it in 5 MiB parts.
      const large = await writeRandomFile(src, 'large file.bin', 12 * MiB);
      files.set('large file.bin', large.sha256);

      await s3cmd.ok('mb', `s3://${bucket}`);
      await s3cmd.ok('sync', src + '/', `s3://${bucket}/tree/`);
      const info = await s3cmd.ok('info', `s3://${bucket}/tree/large file.bin`);
      assert.match(info, /File size:\s*12582912/, info);
      assert.match(info, /MD5 sum:\s*[0-9a-f]{32}/, info);
      const bucketInfo = await s3cmd.ok('info', `s3://${bucket}`);
      assert.match(bucketInfo, /Location:\s*us-east-1/, bucketInfo);

      const down = join(base, 'down');
      await s3cmd.ok('sync', `s3://${bucket}/tree/`, down + '/');
      assertTreeEquals(down, files, 's3cmd sync down');
      // Nothing left to do on a second sync up.
      const again = await s3cmd.ok('sync', '--dry-run', src + '/', `s3://${bucket}/tree/`);
      assert.doesNotMatch(again, /^upload:/m, `second s3cmd sync would upload:\n${again}`);

      await s3cmd.ok('del', '--recursive', '--force', `s3://${bucket}/`);
      await s3cmd.ok('rb', `s3://${bucket}`);
    });

    for (const python of [
      { label: 'pip boto3 (python3 on PATH)', command: PIP_PYTHON, id: 'pip' },
      { label: 'Debian boto3 (/usr/bin/python3)', command: DEBIAN_PYTHON, id: 'deb' },
    ]) {
      const skip = python.id === 'deb' ? SECOND_CLIENT_VERSION : undefined;
      test(`${python.label}: upload_file/download_file/copy over the multipart threshold`, { timeout: 5 * 60_000, skip }, async (t) => {
        if (!(await requireClient(t, python.command, ['-c', 'import boto3']))) return;
        const scratch = dir(`boto3-${python.id}`);
        const run = await runProcess(python.command, [BOTO3_SCRIPT, server.endpoint, `boto3-mp-${python.id}-${engine}`, scratch], {
          env: clientEnv(),
          timeoutMs: 4 * 60_000,
        });
        const lastLine = run.stdout.trim().split('\n').pop() ?? '';
        let summary: { boto3: string; botocore: string; ok: boolean; results: Array<{ check: string; ok: boolean; detail: unknown; trace?: string }> };
        try {
          summary = JSON.parse(lastLine) as typeof summary;
        } catch {
          assert.fail(`script printed no JSON summary (exit ${run.code}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-4000)}`);
        }
        t.diagnostic(`boto3 ${summary.boto3} / botocore ${summary.botocore}: ${summary.results.length} checks`);
        const failures = summary.results.filter((r) => !r.ok);
        assert.deepEqual(failures.map((f) => `${f.check}: ${String(f.detail)}\n${f.trace ?? ''}`), []);
        assert.equal(summary.results.length, 7);
        assert.equal(run.code, 0, run.stderr);
      });
    }

    test('@aws-sdk/lib-storage Upload of 200 MiB with 8 parts in flight', { timeout: 5 * 60_000 }, async (t) => {
      const file = await writeRandomFile(dir('lib-storage'), 'two-hundred.bin', 200 * MiB);
      const s3 = sdkClient(server.endpoint);
      const bucket = `libstorage-${engine}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      // Count UploadPart requests in flight, to show the queue really runs 8 at a time.
      let inFlight = 0;
      let maxInFlight = 0;
      s3.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'UploadPartCommand') return next(args);
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          try {
            return await next(args);
          } finally {
            inFlight--;
          }
        },
        { step: 'initialize', name: 'countPartsInFlight' },
      );
      const key = 'lib storage/200 MiB ünï+%.bin';
      const upload = new Upload({
        client: s3,
        params: { Bucket: bucket, Key: key, Body: createReadStream(file.path), ContentType: 'application/x-test' },
        queueSize: 8,
        partSize: 5 * MiB,
        leavePartsOnError: false,
      });
      const done = await upload.done();
      // The queue allows 8; how many are really in flight at once depends on how fast the client
      // reads the file versus how fast the server answers, so require real concurrency within
      // the bound rather than an exact peak.
      t.diagnostic(`parts in flight peaked at ${maxInFlight} of 8`);
      assert.ok(maxInFlight >= 2 && maxInFlight <= 8, `parts in flight peaked at ${maxInFlight}`);
      assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-40"$/, `ETag ${done.ETag}`);

      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.ContentLength, file.size);
      assert.equal(head.ContentType, 'application/x-test');
      const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      sameFingerprint(await fingerprintStream(get.Body as Readable), file, 'lib-storage GET');
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.equal(uploads.Uploads?.length ?? 0, 0, 'uploads left behind');
      s3.destroy();
      unlinkSync(file.path);
    });

    test('minio-js fPutObject/fGetObject (multipart) and listObjectsV2 with +, % and unicode keys', { timeout: 5 * 60_000 }, async () => {
      const base = dir('minio');
      const client = new Minio.Client({
        endPoint: '127.0.0.1',
        port: server.port,
        useSSL: false,
        accessKey: ACCESS_KEY,
        secretKey: SECRET_KEY,
        region: REGION,
        pathStyle: true,
        partSize: 5 * MiB,
      });
      const bucket = `minio-${engine}`;
      await client.makeBucket(bucket, REGION);
      assert.equal(await client.bucketExists(bucket), true);

      const big = await writeRandomFile(base, 'big.bin', 23 * MiB);
      const bigKey = 'dir/big+plus %percent ünïcødé 日本 😀.bin';
      await client.fPutObject(bucket, bigKey, big.path, { 'Content-Type': 'application/x-test' });
      const stat = await client.statObject(bucket, bigKey);
      assert.equal(stat.size, big.size);
      assert.match(stat.etag, /^[0-9a-f]{32}-5$/, `minio multipart ETag ${stat.etag}`);
      const bigDown = join(base, 'big-down.bin');
      await client.fGetObject(bucket, bigKey, bigDown);
      sameFingerprint(await fingerprintFile(bigDown), big, 'minio fGetObject');

      // A stream of unknown size: minio-js lists incomplete uploads first, then buffers parts.
      const streamKey = 'stream/unknown size+%.bin';
      await client.putObject(bucket, streamKey, createReadStream(big.path), undefined, { 'Content-Type': 'application/x-stream' });
      const streamStat = await client.statObject(bucket, streamKey);
      assert.equal(streamStat.size, big.size);
      sameFingerprint(await fingerprintStream(await client.getObject(bucket, streamKey)), big, 'minio putObject(stream) read back');
      await client.removeObject(bucket, streamKey);

      const small = await writeRandomFile(base, 'small.bin', 1000);
      const keys = ['a+b', 'a b', 'a%b', 'a%2Bb', '100%', 'dir/ü+ñ%20', 'dir/日本/語', 'dir/😀/x', 'dir/\ue000', 'dir/\u{10000}', 'z+/+', '%%/%'];
      for (const key of keys) await client.fPutObject(bucket, key, small.path);
      const all = [...keys, bigKey].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

      const list = (prefix: string, recursive: boolean, startAfter = ''): Promise<Array<{ name?: string; prefix?: string; size?: number }>> =>
        new Promise((resolveList, reject) => {
          const items: Array<{ name?: string; prefix?: string; size?: number }> = [];
          const stream = client.listObjectsV2(bucket, prefix, recursive, startAfter);
          stream.on('data', (item: { name?: string; prefix?: string; size?: number }) => items.push(item));
          stream.on('error', reject);
          stream.on('end', () => resolveList(items));
        });

      const recursive = await list('', true);
      assert.deepEqual(recursive.map((o) => o.name), all, 'listObjectsV2 recursive');
      // minio-js emits a page's objects before its prefixes, so compare in key order.
      const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
      const top = await list('', false);
      assert.deepEqual(
        top.map((o) => o.name ?? o.prefix ?? '').sort(byBytes),
        ['%%/', '100%', 'a b', 'a%2Bb', 'a%b', 'a+b', 'dir/', 'z+/'],
        'listObjectsV2 with delimiter',
      );
      const inDir = await list('dir/', false);
      assert.deepEqual(
        inDir.map((o) => o.name ?? o.prefix ?? '').sort(byBytes),
        ['dir/big+plus %percent ünïcødé 日本 😀.bin', 'dir/ü+ñ%20', 'dir/日本/', 'dir/\ue000', 'dir/😀/', 'dir/\u{10000}'].sort(byBytes),
      );
      const after = await list('', true, 'a+b');
      assert.deepEqual(after.map((o) => o.name), all.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('a+b')) > 0), 'startAfter');

      for (const key of keys) {
        const out = join(base, 'small-down.bin');
        await client.fGetObject(bucket, key, out);
        sameFingerprint(await fingerprintFile(out), small, `minio fGetObject ${key}`);
      }
      await client.removeObjects(bucket, all);
      assert.deepEqual(await list('', true), []);
      await client.removeBucket(bucket);
    });
  });
}
