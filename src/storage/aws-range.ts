// Ranged reads from an S3 target that may not honour the range exactly. Some S3-compatible
// servers send more than was asked (s3rver treats `bytes=0-0` as `bytes=0-`) or ignore Range
// altogether (200 with the whole object); the gateway then cuts the asked-for bytes out of the
// stream itself, so a caller always gets exactly the range.
import { Transform, type Readable } from 'node:stream';
import type { ByteRange, ReadResult } from './types.js';

/** What the target says it sent: the Content-Range of a 206, or the whole object for a 200. */
export interface ServedBytes {
  contentRange: string | undefined;
  contentLength: number;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/** Passes `take` bytes after skipping `skip`, then ends (and stops reading the source). */
function sliceStream(source: Readable, skip: number, take: number): Readable {
  let toSkip = skip;
  let toTake = take;
  const slicer = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let bytes = chunk;
      if (toSkip > 0) {
        const n = Math.min(toSkip, bytes.length);
        toSkip -= n;
        bytes = bytes.subarray(n);
      }
      if (toTake > 0 && bytes.length > 0) {
        const out = bytes.subarray(0, Math.min(toTake, bytes.length));
        toTake -= out.length;
        this.push(out);
      }
      if (toTake === 0) {
        this.push(null);
        source.destroy(); // the rest is not wanted
      }
      done();
    },
  });
  source.on('error', (e) => slicer.destroy(e));
  source.pipe(slicer);
  if (take === 0) slicer.end();
  return slicer;
}

/**
 * The exact requested range out of what the target served. Throws RangeError when the range
 * starts beyond the object (servers that do not answer 416 themselves).
 */
export function exactRange(stream: Readable, range: ByteRange, served: ServedBytes): ReadResult {
  const m = served.contentRange === undefined ? null : CONTENT_RANGE.exec(served.contentRange);
  const first = m ? Number(m[1]) : 0;
  const last = m ? Number(m[2]) : served.contentLength - 1;
  const total = m && m[3] !== '*' ? Number(m[3]) : m ? last + 1 : served.contentLength;
  const end = Math.min(range.end, total - 1);
  if (range.start > end) {
    stream.destroy();
    throw new RangeError(`range ${range.start}-${range.end} is outside the object (${total} bytes)`);
  }
  const size = end - range.start + 1;
  if (first === range.start && last === end) return { stream, size };
  if (first > range.start || last < end) {
    stream.destroy();
    throw new Error(`S3 target served bytes ${first}-${last} for requested ${range.start}-${range.end}`);
  }
  return { stream: sliceStream(stream, range.start - first, size), size };
}
