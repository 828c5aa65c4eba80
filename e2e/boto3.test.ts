// boto3 against the real server: the same script under the image's pip boto3 (python3 on PATH)
// and Debian's boto3 1.26 (/usr/bin/python3), once per HTTP engine (Debian's only in the default
// run: SECOND_CLIENT_VERSION in matrix.ts).
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINES, startServer, type ServerHandle } from './harness.js';
import { SECOND_CLIENT_VERSION } from './matrix.js';
import { clientEnv, runProcess, missingClient } from './clients.js';
import { makeWorkDir } from './files.js';

/** dist/e2e/boto3.test.js -> e2e/py/boto3_roundtrip.py (python files are not compiled) */
const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../e2e/py/boto3_roundtrip.py');

const INTERPRETERS = [
  { label: 'pip boto3 (python3 on PATH)', command: 'python3', id: 'pip' },
  { label: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3', id: 'deb' },
] as const;

interface CheckResult {
  check: string;
  ok: boolean;
  detail: unknown;
  trace?: string;
}
interface Summary {
  python: string;
  boto3: string;
  botocore: string;
  ok: boolean;
  results: CheckResult[];
}

async function hasBoto3(command: string): Promise<boolean> {
  try {
    const r = await runProcess(command, ['-c', 'import boto3'], { env: clientEnv(), timeoutMs: 30_000 });
    return r.code === 0;
  } catch {
    return false;
  }
}

const work = makeWorkDir('boto3');
after(() => work.cleanup());

for (const engine of ENGINES) {
  describe(`boto3 [${engine}]`, () => {
    let server: ServerHandle;
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => {
      await server?.stop();
    });

    for (const interpreter of INTERPRETERS) {
      const skip = interpreter.id === 'deb' ? SECOND_CLIENT_VERSION : undefined;
      test(`boto3_roundtrip.py with ${interpreter.label}`, { timeout: 5 * 60_000, skip }, async (t) => {
        if (!(await hasBoto3(interpreter.command))) {
          const missing = missingClient(`boto3 for ${interpreter.command}`);
          if (missing.fail) assert.fail(missing.message);
          t.skip(`NOT TESTED: ${missing.message}`);
          return;
        }
        const bucket = `boto3-${interpreter.id}-${engine}`;
        const run = await runProcess(interpreter.command, [SCRIPT, server.endpoint, bucket, work.dir], {
          env: clientEnv(),
          timeoutMs: 4 * 60_000,
        });
        const lastLine = run.stdout.trim().split('\n').pop() ?? '';
        let summary: Summary;
        try {
          summary = JSON.parse(lastLine) as Summary;
        } catch {
          assert.fail(`script did not print a JSON summary (exit ${run.code}):\nstdout: ${run.stdout}\nstderr: ${run.stderr.slice(-4000)}`);
        }
        t.diagnostic(`python ${summary.python}, boto3 ${summary.boto3}, botocore ${summary.botocore}: ${summary.results.length} checks`);
        const failures = summary.results.filter((r) => !r.ok);
        assert.deepEqual(
          failures.map((f) => `${f.check}: ${String(f.detail)}`),
          [],
          `boto3 ${summary.boto3} failures:\n${failures.map((f) => `${f.check}: ${String(f.detail)}\n${f.trace ?? ''}`).join('\n')}`,
        );
        assert.ok(summary.ok);
        assert.ok(summary.results.length >= 15, `only ${summary.results.length} checks ran`);
        assert.equal(run.code, 0, run.stderr);
      });
    }
  });
}
