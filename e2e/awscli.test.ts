// aws-cli against the real server: the image's pip aws 1.x (first on PATH) and Debian's aws 2.9
// (/usr/bin/aws), s3api object calls and `aws s3 cp` both ways, once per HTTP engine
// (Debian's only in the default run: SECOND_CLIENT_VERSION in matrix.ts).
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINES, startServer, type ServerHandle } from './harness.js';
import { SECOND_CLIENT_VERSION } from './matrix.js';
import { clientEnv, runProcess, missingClient, type ProcessResult } from './clients.js';
import { makeWorkDir, writeRandomFile, fingerprintFile, MiB, KiB, type RandomFile } from './files.js';

const CLIS = [
  { label: 'pip aws (PATH)', command: 'aws', id: 'pip' },
  { label: 'Debian aws (/usr/bin/aws)', command: '/usr/bin/aws', id: 'deb' },
] as const;

const work = makeWorkDir('awscli');
// A private config: never the user's ~/.aws. Transfer settings stay at the CLI defaults, so
// `s3 cp` of 10 MiB goes up as a multipart upload (8 MiB threshold) and down with ranged GETs.
const configFile = join(work.dir, 'aws-config');
writeFileSync(configFile, ['[default]', 'region = us-east-1', 'output = json', 'max_attempts = 1', 's3 =', '    addressing_style = path', ''].join('\n'));
const awsEnv = clientEnv({ AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: join(work.dir, 'no-credentials') });

let small: RandomFile;
let empty: RandomFile;
let ten: RandomFile;
before(async () => {
  empty = await writeRandomFile(work.dir, 'empty.bin', 0);
  small = await writeRandomFile(work.dir, 'small.bin', KiB);
  ten = await writeRandomFile(work.dir, 'ten.bin', 10 * MiB);
});
after(() => work.cleanup());

async function cliWorks(command: string): Promise<boolean> {
  try {
    return (await runProcess(command, ['--version'], { env: awsEnv, timeoutMs: 60_000 })).code === 0;
  } catch {
    return false;
  }
}

for (const engine of ENGINES) {
  describe(`aws-cli [${engine}]`, () => {
    let server: ServerHandle;
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => {
      await server?.stop();
    });

    for (const cli of CLIS) {
      const skip = cli.id === 'deb' ? SECOND_CLIENT_VERSION : undefined;
      test(`${cli.label}: s3api put/get/head/delete and s3 cp up and down`, { timeout: 5 * 60_000, skip }, async (t) => {
        if (!(await cliWorks(cli.command))) {
          const missing = missingClient(cli.command);
          if (missing.fail) assert.fail(missing.message);
          t.skip(`NOT TESTED: ${missing.message}`);
          return;
        }
        const version = (await runProcess(cli.command, ['--version'], { env: awsEnv })).stdout.trim();
        t.diagnostic(version);

        const run = async (...args: string[]): Promise<ProcessResult> =>
          runProcess(cli.command, ['--endpoint-url', server.endpoint, ...args], { env: awsEnv, cwd: work.dir, timeoutMs: 120_000 });
        const ok = async (...args: string[]): Promise<string> => {
          const r = await run(...args);
          assert.equal(r.code, 0, `aws ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
          return r.stdout;
        };
        const json = async (...args: string[]): Promise<Record<string, unknown>> => JSON.parse(await ok(...args)) as Record<string, unknown>;
        const sameFile = async (path: string, expected: RandomFile, what: string): Promise<void> => {
          const got = await fingerprintFile(path);
          assert.equal(got.size, expected.size, `${what}: size`);
          assert.equal(got.sha256, expected.sha256, `${what}: bytes differ`);
        };

        const bucket = `awscli-${cli.id}-${engine}`;
        await ok('s3api', 'create-bucket', '--bucket', bucket);
        await ok('s3api', 'head-bucket', '--bucket', bucket);

        // each size under a plain key, plus the 1 KiB object under a key that needs encoding
        const objects = [
          { f: empty, key: 'api/empty.bin' },
          { f: small, key: 'api/small.bin' },
          { f: ten, key: 'api/ten.bin' },
          { f: small, key: 'api dir/ünï cøde+plus%pct (1)!.bin' },
        ];
        for (const { f, key } of objects) {
          const put = await json('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', f.path, '--content-type', 'application/x-test', '--metadata', 'color=blue,shape=round');
          assert.equal(put['ETag'], `"${f.md5}"`, `put-object ${key}`);
          const out = join(work.dir, `out-${cli.id}-${engine}.bin`);
          const get = await json('s3api', 'get-object', '--bucket', bucket, '--key', key, out);
          assert.equal(get['ContentLength'], f.size, `get-object ${key}`);
          assert.equal(get['ETag'], `"${f.md5}"`);
          assert.equal(get['ContentType'], 'application/x-test');
          assert.deepEqual(get['Metadata'], { color: 'blue', shape: 'round' });
          await sameFile(out, f, `get-object ${key}`);
          await ok('s3api', 'delete-object', '--bucket', bucket, '--key', key);
          const gone = await run('s3api', 'head-object', '--bucket', bucket, '--key', key);
          assert.notEqual(gone.code, 0, `head-object after delete-object succeeded: ${gone.stdout}`);
          assert.match(gone.stderr, /404|Not Found/, gone.stderr);
        }
        const head = await json('s3api', 'put-object', '--bucket', bucket, '--key', 'api/head.bin', '--body', small.path);
        assert.equal(head['ETag'], `"${small.md5}"`);
        const headed = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'api/head.bin');
        assert.equal(headed['ContentLength'], small.size);
        assert.equal(headed['ETag'], `"${small.md5}"`);
        await ok('s3api', 'delete-object', '--bucket', bucket, '--key', 'api/head.bin');

        for (const key of ['cp/ten.bin', 'cp dir/ünï cøde +plus.bin']) {
          await ok('s3', 'cp', ten.path, `s3://${bucket}/${key}`);
          const uploaded = await json('s3api', 'head-object', '--bucket', bucket, '--key', key);
          assert.equal(uploaded['ContentLength'], ten.size);
          assert.match(String(uploaded['ETag']), /-2"$/, 's3 cp of 10 MiB is a 2-part multipart upload');
          const down = join(work.dir, `cp-down-${cli.id}-${engine}.bin`);
          await ok('s3', 'cp', `s3://${bucket}/${key}`, down);
          await sameFile(down, ten, `s3 cp down ${key}`);
          await ok('s3', 'rm', `s3://${bucket}/${key}`);
        }

        await ok('s3api', 'delete-bucket', '--bucket', bucket);
        const noBucket = await run('s3api', 'head-bucket', '--bucket', bucket);
        assert.notEqual(noBucket.code, 0, 'head-bucket after delete-bucket succeeded');
      });
    }
  });
}
