// File mechanics of the local JSONL metadata engine (metadata.md §6): tolerant line reading,
// durable appends and crash-safe whole-file rewrites (compaction). Knows nothing about records.
import { constants } from 'node:fs';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A parsed line: a JSON object (arrays and scalars are not records and are skipped). */
export type JsonLine = Record<string, unknown>;

/**
 * Every JSON object line of a file, in order. Blank and unparsable lines (a torn last line after
 * a crash, or garbage) are skipped; a missing file reads as empty.
 */
export async function readJsonl(path: string): Promise<JsonLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: JsonLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) out.push(parsed as JsonLine);
  }
  return out;
}

/** fsync a directory so a create, rename or unlink inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` with exactly `lines` (compaction): write `{path}.tmp`, fsync, rename over the
 * original, fsync the directory. With no lines the file is deleted instead.
 */
export async function rewriteJsonl(path: string, lines: readonly JsonLine[]): Promise<void> {
  if (lines.length === 0) {
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  } else {
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }
  await fsyncDir(dirname(path));
}

/**
 * Appends whole lines to one file and fsyncs before resolving. The file is opened on the first
 * append (so compaction may delete empty files) and kept open for the life of the process only.
 * Callers serialise appends (the store's write lock).
 */
export class JsonlAppender {
  private fh: FileHandle | undefined;
  /** Bytes known to be in the file; a failed append truncates back to it. */
  private size = 0;

  constructor(readonly path: string) {}

  private async handle(): Promise<FileHandle> {
    if (this.fh !== undefined) return this.fh;
    let created = false;
    let fh: FileHandle;
    try {
      fh = await open(this.path, constants.O_RDWR | constants.O_APPEND);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fh = await open(this.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o644);
      created = true;
    }
    try {
      this.size = (await fh.stat()).size;
      // A torn last line (crash mid-append, or a writer without a final newline) must not swallow
      // our first record: terminate it. A complete-but-unterminated record stays readable.
      if (this.size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, this.size - 1);
        if (last[0] !== 0x0a) {
          await fh.write('\n');
          this.size += 1;
        }
      }
      if (created) await fsyncDir(dirname(this.path));
    } catch (e) {
      await fh.close();
      throw e;
    }
    this.fh = fh;
    return fh;
  }

  async append(lines: readonly JsonLine[]): Promise<void> {
    if (lines.length === 0) return;
    const fh = await this.handle();
    const data = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''), 'utf8');
    try {
      await fh.writeFile(data); // loops until every byte is written; O_APPEND puts it at the end
      await fh.sync();
      this.size += data.length;
    } catch (e) {
      // Drop a partial write so the next append starts on a clean line.
      await fh.truncate(this.size).catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
