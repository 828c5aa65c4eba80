// Applies a peer's ConfigPatch to a full Config (a deep merge of plain objects).
import { defaultConfig, type Config } from '../../src/config.js';
import type { ConfigPatch } from './types.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeInto(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const current = target[k];
    if (isPlainObject(v) && isPlainObject(current)) mergeInto(current, v);
    else target[k] = v;
  }
}

/** A copy of `base` (default: the defaults) with `patch` merged over it. */
export function patchedConfig(patch: ConfigPatch, base: Config = defaultConfig()): Config {
  const copy = structuredClone(base);
  mergeInto(copy as unknown as Record<string, unknown>, patch as Record<string, unknown>);
  return copy;
}

let namespaceCounter = 0;
/** A namespace id unique in this run: lowercase letters, digits and '-', at most 40 characters. */
export function uniqueNamespaceId(tag: string): string {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${++namespaceCounter}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40);
}
