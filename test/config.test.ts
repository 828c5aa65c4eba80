// The YAML config (spec/operations.md §1-2): the cloud engine and backend sections, their aliases
// from the other implementations, and the settings whose absence fails startup.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configFromYaml } from '../src/config.js';

describe('config: cloud metadata engines and storage backends', () => {
  it('reads every cloud section, with the other implementations’ key names', () => {
    const c = configFromYaml({
      metadata: {
        engine: 'firestore',
        dynamodb: { table_prefix: 't', region: 'eu-west-1', endpoint_url: 'http://127.0.0.1:1' },
        firestore: { collection_prefix: 'col', project_id: 'p' },
        cosmos: { database: 'd', container: 'c', endpoint: 'https://x', master_key: 'k' },
      },
      storage: {
        backend: 'azure',
        aws: { bucket: 'b', prefix: 'p/', use_path_style: true },
        gcp: { bucket: 'g', project_id: 'gp' },
        azure: { container: 'ctr', account: 'acct', use_managed_identity: 'true' },
      },
    });
    assert.deepEqual(c.metadata.dynamodb, { table: 't', region: 'eu-west-1', endpoint_url: 'http://127.0.0.1:1' });
    assert.deepEqual(c.metadata.firestore, { collection: 'col', project: 'p', credentials_file: '' });
    assert.equal(c.metadata.cosmos.master_key, 'k');
    assert.equal(c.storage.aws.use_path_style, true);
    assert.equal(c.storage.aws.region, 'us-east-1');
    assert.equal(c.storage.gcp.project, 'gp');
    assert.equal(c.storage.azure.use_managed_identity, true);
  });

  it('fails startup without the required bucket, container or Cosmos endpoint', () => {
    for (const [backend, key] of [['aws', 'storage.aws.bucket'], ['gcp', 'storage.gcp.bucket'], ['azure', 'storage.azure.container']] as const) {
      assert.throws(() => configFromYaml({ storage: { backend } }), (e: unknown) => e instanceof ConfigError && e.message.includes(key), backend);
    }
    assert.throws(() => configFromYaml({ metadata: { engine: 'cosmos' } }), /metadata.cosmos.endpoint or metadata.cosmos.connection_string/);
    assert.throws(() => configFromYaml({ metadata: { engine: 'raft' } }), /unknown metadata.engine: raft/);
    assert.throws(() => configFromYaml({ storage: { backend: 'ftp' } }), /unknown storage.backend: ftp/);
  });
});
