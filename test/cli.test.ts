// The `bleepstore` bin: flag errors and a missing --config file exit 1 with a clear message
// before anything listens (spec/operations.md §1-2).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('bleepstore CLI', () => {
  it('exits 1 naming the file when --config does not exist', () => {
    const r = run('--config', '/nonexistent/bleepstore.yaml');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /config file not found: \/nonexistent\/bleepstore\.yaml/);
  });

  it('exits 1 on bad flag values and unknown flags', () => {
    for (const args of [['--port', 'abc'], ['--http-engine', 'apache'], ['--log-format', 'xml'], ['--bind', 'nohostport'], ['--no-such-flag']]) {
      const r = run(...args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^bleepstore: /m, args.join(' '));
    }
  });

  it('prints usage with --help and exits 0', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--config PATH/);
  });
});
