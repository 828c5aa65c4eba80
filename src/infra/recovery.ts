// The recovery steps of every start (operations.md §3.1 steps 4-5). There is no clean-shutdown
// path, so these are the only cleanup: whatever a kill -9 left behind is found and repaired here.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendUnavailableError } from '../cloud/retry.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { MetadataStore } from '../metadata/types.js';
import { defaultOwnerId } from '../s3/identity.js';
import { applyCommitAction, ownsIntent, REMOTE_STAGED_PREFIX } from '../s3/publish.js';
import { nowIso } from '../s3/time.js';
import { MULTIPART_DIR } from '../storage/key-path.js';
import { LocalStorage } from '../storage/local.js';
import type { StorageBackend } from '../storage/types.js';

/** Step 4: upsert the configured credential (a changed secret takes effect; created_at is kept). */
export async function seedDefaultCredential(metadata: MetadataStore, config: Config): Promise<void> {
  const { access_key, secret_key } = config.auth;
  await metadata.putCredential({
    access_key_id: access_key,
    secret_key,
    owner_id: defaultOwnerId(access_key),
    display_name: access_key,
    active: true,
    created_at: nowIso(),
  });
}

/** Step 5: uploads initiated more than `ttlSeconds` ago lose their rows, then their part data. */
export async function reapExpiredUploads(metadata: MetadataStore, storage: StorageBackend, ttlSeconds: number, log: Logger): Promise<number> {
  try {
    const reaped = await metadata.reapExpiredUploads(ttlSeconds);
    for (const u of reaped) {
      await storage
        .deleteUploadParts(u.upload_id)
        .catch((e: Error) => log.warn('reaper: part cleanup failed', { upload_id: u.upload_id, error: e.message }));
    }
    log.info(`Reaped ${reaped.length} expired multipart uploads`, { ttl_seconds: ttlSeconds });
    return reaped.length;
  } catch (e) {
    log.warn('reaper failed', { error: (e as Error).message });
    return 0;
  }
}

/** Every upload id the metadata knows, across all buckets. */
async function knownUploadIds(metadata: MetadataStore): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const bucket of await metadata.listBuckets()) {
    let keyMarker = '';
    let uploadIdMarker = '';
    for (;;) {
      const page = await metadata.listMultipartUploads(bucket.name, { prefix: '', delimiter: '', maxUploads: 1000, keyMarker, uploadIdMarker });
      for (const u of page.uploads) ids.add(u.upload_id);
      if (!page.isTruncated || page.nextKeyMarker === undefined) break;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker ?? '';
    }
  }
  return ids;
}

/**
 * Part directories whose upload has no metadata row: a crash between the metadata commit of
 * Complete/Abort (or the reaper) and the part deletion that follows it, or an UploadPart that
 * raced an Abort. Nothing can reference them any more, so they are deleted. Runs before listening,
 * when no request can create an upload concurrently. Local storage only (the other backends keep
 * parts where no directory listing applies).
 */
export async function sweepOrphanedParts(metadata: MetadataStore, storage: StorageBackend, log: Logger): Promise<number> {
  if (!(storage instanceof LocalStorage)) return 0;
  try {
    const dirs = await readdir(join(storage.rootDir, MULTIPART_DIR));
    if (dirs.length === 0) return 0;
    const known = await knownUploadIds(metadata);
    let removed = 0;
    for (const id of dirs) {
      if (known.has(id)) continue;
      await storage.deleteUploadParts(id);
      removed++;
    }
    if (removed > 0) log.info(`Removed part data of ${removed} uploads without metadata`);
    return removed;
  } catch (e) {
    log.warn('orphaned part sweep failed', { error: (e as Error).message });
    return 0;
  }
}

/**
 * Finishes or drops the publishes a kill -9 interrupted (s3/publish.ts). Runs twice at startup:
 * for local staged files before storage init empties .tmp/ (no `storage` given), and for remote
 * staged writes of cloud gateways after it (`storage` given). Staged bytes not yet at their
 * destination → the old version is intact: drop the intent. Published → roll the intent's
 * metadata write forward, so the row matches the bytes now stored.
 */
export async function recoverCommitIntents(metadata: MetadataStore, log: Logger, storage?: StorageBackend): Promise<{ rolledForward: number; dropped: number }> {
  let rolledForward = 0;
  let dropped = 0;
  for (const intent of await metadata.listCommitIntents()) {
    if (!ownsIntent(intent.id)) continue; // another node's publish, possibly in flight right now
    const remoteRef = intent.staged_path.startsWith(REMOTE_STAGED_PREFIX) ? intent.staged_path.slice(REMOTE_STAGED_PREFIX.length) : undefined;
    if ((remoteRef !== undefined) !== (storage !== undefined)) continue; // the other pass handles it
    const published =
      remoteRef === undefined ? !existsSync(intent.staged_path)
      : storage?.stagedWriteCommitted ? await storage.stagedWriteCommitted(remoteRef)
      : false; // a backend that cannot tell (configuration changed): keep the old row
    if (!published) {
      dropped++;
    } else {
      try {
        await applyCommitAction(metadata, intent.action);
        rolledForward++;
      } catch (e) {
        // The store is unreachable or overloaded: keep the intent and fail this start (the next
        // start retries), rather than serve bytes the metadata does not describe.
        if (e instanceof BackendUnavailableError) throw e;
        // e.g. a part whose upload was aborted meanwhile: nothing left to make visible.
        log.warn('recovery: commit intent could not be applied', { intent: intent.id, kind: intent.action.kind, error: (e as Error).message });
      }
    }
    await metadata.clearCommitIntent(intent.id);
  }
  if (rolledForward + dropped > 0) log.info(`Recovered ${rolledForward + dropped} interrupted commits`, { rolled_forward: rolledForward, dropped });
  return { rolledForward, dropped };
}
