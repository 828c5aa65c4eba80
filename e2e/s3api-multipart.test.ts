// Every multipart step as its own aws s3api call (pip aws 1.x and Debian aws 2.x, the latter in the
// default run only: SECOND_CLIENT_VERSION in matrix.ts), once per HTTP
// engine: create, list uploads (paged), upload parts out of order, upload-part-copy with a range,
// list parts (paged), complete, head/get compared byte for byte, abort; then copy-object, ACLs,
// location and delete-objects through the same CLI.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINES, startServer, type ServerHandle } from './harness.js';
import { SECOND_CLIENT_VERSION } from './matrix.js';
import { makeWorkDir, writeRandomFile, fingerprintFile, MiB, type RandomFile } from './files.js';
import { awsCli, requireClient, PIP_AWS, DEBIAN_AWS } from './s3api-helpers.js';

const CLIS = [
  { label: 'pip aws 1.x', command: PIP_AWS, id: 'pip' },
  { label: 'Debian aws 2.x', command: DEBIAN_AWS, id: 'deb' },
] as const;

const work = makeWorkDir('s3api-multipart');
let part1: RandomFile;
let part3: RandomFile;
let source: RandomFile;
const COPY_RANGE = { first: 1000, last: 1000 + 5 * MiB - 1 };
before(async () => {
  part1 = await writeRandomFile(work.dir, 'part1.bin', 5 * MiB);
  part3 = await writeRandomFile(work.dir, 'part3.bin', MiB + 7);
  source = await writeRandomFile(work.dir, 'source.bin', 6 * MiB);
});
after(() => work.cleanup());

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** The multipart ETag computed here, independently of the server: md5 of the binary part md5s. */
function compositeEtag(partMd5s: string[]): string {
  return `"${md5(Buffer.concat(partMd5s.map((h) => Buffer.from(h, 'hex'))))}-${partMd5s.length}"`;
}

interface Part {
  PartNumber: number;
  ETag: string;
  Size: number;
}
interface Upload {
  Key: string;
  UploadId: string;
}

for (const engine of ENGINES) {
  describe(`s3api multipart steps [${engine}]`, () => {
    let server: ServerHandle;
    before(async () => {
      server = await startServer(engine);
    });
    after(async () => {
      await server?.stop();
    });

    for (const cli of CLIS) {
      const skip = cli.id === 'deb' ? SECOND_CLIENT_VERSION : undefined;
      test(`${cli.label}: create, upload-part (out of order), upload-part-copy, list-parts, complete, abort`, { timeout: 4 * 60_000, skip }, async (t) => {
        if (!(await requireClient(t, cli.command, ['--version']))) return;
        const dir = join(work.dir, `${engine}-${cli.id}`);
        mkdirSync(dir, { recursive: true });
        const aws = awsCli(dir, cli.command, server.endpoint);
        const bucket = `mp-${cli.id}-${engine}`;
        const key = 'mp/object ünï+%.bin';

        await aws.ok('s3api', 'create-bucket', '--bucket', bucket);
        await aws.ok('s3api', 'put-object', '--bucket', bucket, '--key', 'src/object', '--body', source.path);

        const created = await aws.json<{ UploadId: string; Key: string; Bucket: string }>(
          's3api', 'create-multipart-upload', '--bucket', bucket, '--key', key,
          '--content-type', 'application/x-test', '--cache-control', 'no-cache', '--metadata', 'color=blue',
        );
        assert.equal(created.Key, key);
        assert.equal(created.Bucket, bucket);
        const uploadId = created.UploadId;
        assert.match(uploadId, /^[0-9a-f-]{36}$/);

        // Parts out of order: 3 first, then 1, then 2 copied from another object.
        const put3 = await aws.json<{ ETag: string }>('s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', '3', '--body', part3.path);
        assert.equal(put3.ETag, `"${part3.md5}"`);
        const put1 = await aws.json<{ ETag: string }>('s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', '1', '--body', part1.path);
        assert.equal(put1.ETag, `"${part1.md5}"`);
        const sourceBytes = readFileSync(source.path);
        const copied = sourceBytes.subarray(COPY_RANGE.first, COPY_RANGE.last + 1);
        const copy2 = await aws.json<{ CopyPartResult: { ETag: string; LastModified: string } }>(
          's3api', 'upload-part-copy', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', '2',
          '--copy-source', `${bucket}/src/object`, '--copy-source-range', `bytes=${COPY_RANGE.first}-${COPY_RANGE.last}`,
        );
        assert.equal(copy2.CopyPartResult.ETag, `"${md5(copied)}"`);

        const uploads = await aws.json<{ Uploads?: Upload[] }>('s3api', 'list-multipart-uploads', '--bucket', bucket);
        assert.deepEqual(uploads.Uploads?.map((u) => [u.Key, u.UploadId]), [[key, uploadId]]);

        const parts = await aws.json<{ Parts: Part[]; IsTruncated?: boolean }>('s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', uploadId);
        assert.deepEqual(
          parts.Parts.map((p) => [p.PartNumber, p.ETag, p.Size]),
          [[1, `"${part1.md5}"`, part1.size], [2, `"${md5(copied)}"`, copied.length], [3, `"${part3.md5}"`, part3.size]],
        );
        const firstPage = await aws.json<{ Parts: Part[]; IsTruncated: boolean; NextPartNumberMarker: number }>(
          's3api', 'list-parts', '--no-paginate', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--max-parts', '2',
        );
        assert.deepEqual(firstPage.Parts.map((p) => p.PartNumber), [1, 2]);
        assert.equal(firstPage.IsTruncated, true);
        assert.equal(firstPage.NextPartNumberMarker, 2);
        const secondPage = await aws.json<{ Parts: Part[]; IsTruncated: boolean }>(
          's3api', 'list-parts', '--no-paginate', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number-marker', '2',
        );
        assert.deepEqual(secondPage.Parts.map((p) => p.PartNumber), [3]);
        assert.equal(secondPage.IsTruncated, false);

        const partsFile = join(dir, 'parts.json');
        writeFileSync(partsFile, JSON.stringify({ Parts: parts.Parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })) }));
        const completed = await aws.json<{ ETag: string; Key: string; Bucket: string; Location: string }>(
          's3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--multipart-upload', `file://${partsFile}`,
        );
        const expectedEtag = compositeEtag([part1.md5, md5(copied), part3.md5]);
        assert.equal(completed.ETag, expectedEtag);
        assert.equal(completed.Key, key);
        assert.match(completed.Location, new RegExp(`/${bucket}/`));

        const head = await aws.json<{ ContentLength: number; ETag: string; ContentType: string; CacheControl: string; Metadata: Record<string, string> }>(
          's3api', 'head-object', '--bucket', bucket, '--key', key,
        );
        assert.equal(head.ContentLength, part1.size + copied.length + part3.size);
        assert.equal(head.ETag, expectedEtag);
        assert.equal(head.ContentType, 'application/x-test');
        assert.equal(head.CacheControl, 'no-cache');
        assert.deepEqual(head.Metadata, { color: 'blue' });
        const out = join(dir, 'assembled.bin');
        await aws.ok('s3api', 'get-object', '--bucket', bucket, '--key', key, out);
        const expected = Buffer.concat([readFileSync(part1.path), copied, readFileSync(part3.path)]);
        const got = await fingerprintFile(out);
        assert.equal(got.size, expected.length);
        assert.equal(got.md5, md5(expected), 'assembled object differs from part1 + copied range + part3');
        // A ranged GET across the part 1 / part 2 boundary.
        await aws.ok('s3api', 'get-object', '--bucket', bucket, '--key', key, '--range', `bytes=${5 * MiB - 10}-${5 * MiB + 9}`, out);
        assert.deepEqual(readFileSync(out), expected.subarray(5 * MiB - 10, 5 * MiB + 10));

        // Completed uploads disappear; a repeat Complete is NoSuchUpload or (optional) the same ETag.
        const none = await aws.json<{ Uploads?: Upload[] }>('s3api', 'list-multipart-uploads', '--bucket', bucket);
        assert.equal(none.Uploads?.length ?? 0, 0);
        const repeat = await aws.run(['s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--multipart-upload', `file://${partsFile}`]);
        if (repeat.code !== 0) assert.match(repeat.stderr, /NoSuchUpload/, repeat.stderr);
        else assert.equal((JSON.parse(repeat.stdout) as { ETag: string }).ETag, expectedEtag);

        // Several uploads, listed one per page with key-marker / upload-id-marker.
        const ids: Array<[string, string]> = [];
        for (const k of ['p/b', 'p/a', 'p/b', 'q/c']) {
          const u = await aws.json<{ UploadId: string }>('s3api', 'create-multipart-upload', '--bucket', bucket, '--key', k);
          ids.push([k, u.UploadId]);
        }
        const expectedOrder = [...ids].sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
        const seen: Array<[string, string]> = [];
        let markers: string[] = [];
        for (let page = 0; page < 10; page++) {
          const r = await aws.json<{ Uploads?: Upload[]; IsTruncated: boolean; NextKeyMarker?: string; NextUploadIdMarker?: string }>(
            's3api', 'list-multipart-uploads', '--no-paginate', '--bucket', bucket, '--max-uploads', '1', ...markers,
          );
          seen.push(...(r.Uploads ?? []).map((u): [string, string] => [u.Key, u.UploadId]));
          if (!r.IsTruncated) break;
          markers = ['--key-marker', r.NextKeyMarker ?? '', '--upload-id-marker', r.NextUploadIdMarker ?? ''];
        }
        assert.deepEqual(seen, expectedOrder, 'paged list-multipart-uploads');
        const grouped = await aws.json<{ Uploads?: Upload[]; CommonPrefixes?: Array<{ Prefix: string }> }>(
          's3api', 'list-multipart-uploads', '--bucket', bucket, '--delimiter', '/', '--prefix', '',
        );
        assert.deepEqual(grouped.CommonPrefixes?.map((p) => p.Prefix), ['p/', 'q/']);

        // Abort: a part, then abort; the upload is gone for list-parts, upload-part and the listing.
        const [abortKey, abortId] = ids[0] as [string, string];
        await aws.ok('s3api', 'upload-part', '--bucket', bucket, '--key', abortKey, '--upload-id', abortId, '--part-number', '1', '--body', part3.path);
        await aws.ok('s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', abortKey, '--upload-id', abortId);
        const gone = await aws.run(['s3api', 'list-parts', '--bucket', bucket, '--key', abortKey, '--upload-id', abortId]);
        assert.notEqual(gone.code, 0);
        assert.match(gone.stderr, /NoSuchUpload/, gone.stderr);
        const lateUpload = await aws.run(['s3api', 'upload-part', '--bucket', bucket, '--key', abortKey, '--upload-id', abortId, '--part-number', '2', '--body', part3.path]);
        assert.match(lateUpload.stderr, /NoSuchUpload/, lateUpload.stderr);
        for (const [k, id] of ids.slice(1)) await aws.ok('s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', k, '--upload-id', id);
        const empty = await aws.json<{ Uploads?: Upload[] }>('s3api', 'list-multipart-uploads', '--bucket', bucket);
        assert.equal(empty.Uploads?.length ?? 0, 0);

        // copy-object with REPLACE, ACLs, location, delete-objects.
        const copy = await aws.json<{ CopyObjectResult: { ETag: string } }>(
          's3api', 'copy-object', '--bucket', bucket, '--key', 'copy/of object', '--copy-source', `${bucket}/${key}`, // the CLI percent-encodes it
          '--metadata-directive', 'REPLACE', '--content-type', 'text/plain', '--metadata', 'shape=round',
        );
        assert.equal(copy.CopyObjectResult.ETag, `"${md5(expected)}"`, 'a copied multipart object gets a plain MD5 ETag');
        const copyHead = await aws.json<{ ContentType: string; Metadata: Record<string, string>; ContentLength: number }>('s3api', 'head-object', '--bucket', bucket, '--key', 'copy/of object');
        assert.equal(copyHead.ContentType, 'text/plain');
        assert.deepEqual(copyHead.Metadata, { shape: 'round' });
        assert.equal(copyHead.ContentLength, expected.length);

        await aws.ok('s3api', 'put-object-acl', '--bucket', bucket, '--key', key, '--acl', 'public-read');
        const acl = await aws.json<{ Grants: Array<{ Grantee: { URI?: string; Type: string }; Permission: string }> }>('s3api', 'get-object-acl', '--bucket', bucket, '--key', key);
        assert.ok(acl.Grants.some((g) => g.Grantee.URI === 'http://acs.amazonaws.com/groups/global/AllUsers' && g.Permission === 'READ'), JSON.stringify(acl));
        assert.ok(acl.Grants.some((g) => g.Grantee.Type === 'CanonicalUser' && g.Permission === 'FULL_CONTROL'), JSON.stringify(acl));
        // An ACL as an XML body (AccessControlPolicy), read back as written.
        const owner = (acl as unknown as { Owner: { ID: string } }).Owner.ID;
        const policy = {
          Owner: { ID: owner },
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: owner }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers' }, Permission: 'READ_ACP' },
          ],
        };
        await aws.ok('s3api', 'put-object-acl', '--bucket', bucket, '--key', key, '--access-control-policy', JSON.stringify(policy));
        const xmlAcl = await aws.json<{ Grants: Array<{ Grantee: { URI?: string; ID?: string }; Permission: string }> }>('s3api', 'get-object-acl', '--bucket', bucket, '--key', key);
        assert.deepEqual(xmlAcl.Grants.map((g) => [g.Grantee.URI ?? g.Grantee.ID, g.Permission]), [[owner, 'FULL_CONTROL'], ['http://acs.amazonaws.com/groups/global/AuthenticatedUsers', 'READ_ACP']]);
        await aws.ok('s3api', 'put-bucket-acl', '--bucket', bucket, '--grant-read', 'uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers');
        const bucketAcl = await aws.json<{ Grants: Array<{ Grantee: { URI?: string }; Permission: string }> }>('s3api', 'get-bucket-acl', '--bucket', bucket);
        assert.deepEqual(bucketAcl.Grants.map((g) => [g.Grantee.URI, g.Permission]), [['http://acs.amazonaws.com/groups/global/AuthenticatedUsers', 'READ']]);
        const location = await aws.json<{ LocationConstraint: string | null }>('s3api', 'get-bucket-location', '--bucket', bucket);
        assert.equal(location.LocationConstraint ?? null, null);

        const objects = ['src/object', key, 'copy/of object', 'never existed'];
        const deleteFile = join(dir, 'delete.json');
        writeFileSync(deleteFile, JSON.stringify({ Objects: objects.map((k) => ({ Key: k })), Quiet: false }));
        const deleted = await aws.json<{ Deleted?: Array<{ Key: string }>; Errors?: unknown[] }>('s3api', 'delete-objects', '--bucket', bucket, '--delete', `file://${deleteFile}`);
        assert.deepEqual(deleted.Deleted?.map((d) => d.Key).sort(), [...objects].sort());
        assert.equal(deleted.Errors, undefined);
        const listed = await aws.json<{ KeyCount: number }>('s3api', 'list-objects-v2', '--no-paginate', '--bucket', bucket);
        assert.equal(listed.KeyCount, 0);
        await aws.ok('s3api', 'delete-bucket', '--bucket', bucket);
      });
    }
  });
}
