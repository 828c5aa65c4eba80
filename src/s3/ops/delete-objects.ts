// DeleteObjects — POST /{bucket}?delete (s3-api.md §4.9).
import { childrenNamed, childText, parseXml, XmlParseError } from '../../xml/parser.js';
import type { XmlNode } from '../../xml/writer.js';
import { readBody } from '../body.js';
import type { OperationHandler } from '../context.js';
import { S3Error } from '../errors.js';
import { xmlResponse } from '../responses.js';
import { requireBucket } from './buckets.js';
import { deleteObjectUnderLock } from './objects.js';

const MAX_KEYS = 1000;
/** 1,000 keys of 1,024 bytes, escaped and pretty-printed, fit in 2 MiB with room to spare. */
const MAX_BODY = 2 * 1024 * 1024;

function parseDeleteBody(body: Buffer): { quiet: boolean; keys: string[] } {
  let root;
  try {
    root = parseXml(body, { maxElements: MAX_KEYS * 4 + 10, maxDepth: 6 });
  } catch (e) {
    if (e instanceof XmlParseError) throw new S3Error('MalformedXML');
    throw e;
  }
  if (root.name !== 'Delete') throw new S3Error('MalformedXML');
  const objects = childrenNamed(root, 'Object');
  if (objects.length === 0 || objects.length > MAX_KEYS) throw new S3Error('MalformedXML');
  const keys = objects.map((o) => {
    // Keys keep their whitespace: only the element's raw text counts.
    const keyEl = o.children.find((c) => c.name === 'Key');
    if (!keyEl || keyEl.text === '') throw new S3Error('MalformedXML');
    return keyEl.text;
  });
  return { quiet: (childText(root, 'Quiet') ?? '').toLowerCase() === 'true', keys };
}

export const deleteObjects: OperationHandler = async (ctx) => {
  await requireBucket(ctx);
  const body = await readBody(ctx, MAX_BODY, 'MalformedXML');
  const { quiet, keys } = parseDeleteBody(body);
  const results: XmlNode[] = [];
  for (const key of keys) {
    try {
      await deleteObjectUnderLock(ctx, key);
      if (!quiet) results.push(['Deleted', [['Key', key]]]);
    } catch (e) {
      const err = e instanceof S3Error ? e : new S3Error('InternalError');
      if (!(e instanceof S3Error)) ctx.deps.log.error('delete failed', { bucket: ctx.bucket, key, error: (e as Error).message });
      results.push(['Error', [['Key', key], ['Code', err.code], ['Message', err.message]]]);
    }
  }
  return xmlResponse('DeleteResult', results);
};
