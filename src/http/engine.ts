// Picks the HTTP engine: uWS when asked for and its native binding really loads, node:http otherwise.
import type { HttpEngine, RequestHandler } from './types.js';
import { createNodeEngine } from './node.js';

/** The only Node ABI the pinned uWS build ships a Linux binary for (Node 20). */
const UWS_NATIVE_ABI = '115';

/**
 * Why uWS cannot run natively here, or null when it can. The trufflesuite package never fails to
 * load: on a foreign ABI (or with UWS_USE_FALLBACK) it silently swaps in a slow pure-JS
 * implementation, so refuse those cases before importing, and check what was loaded after.
 */
function uwsUnavailableReason(): string | null {
  const flag = process.env.UWS_USE_FALLBACK;
  if (flag !== undefined && /^(1|true)$/i.test(flag)) return 'UWS_USE_FALLBACK is set';
  if (process.versions.modules !== UWS_NATIVE_ABI) {
    return `Node ABI ${process.versions.modules} is not ${UWS_NATIVE_ABI} (Node 20)`;
  }
  return null;
}

/** The native binding exports SSLApp; the package's pure-JS fallback does not. */
function isNativeBinding(mod: unknown): boolean {
  return typeof mod === 'object' && mod !== null && typeof (mod as { SSLApp?: unknown }).SSLApp === 'function';
}

export async function createHttpEngine(
  preferred: 'uws' | 'node',
  handler: RequestHandler,
  log: (msg: string) => void,
): Promise<HttpEngine> {
  if (preferred === 'uws') {
    let reason = uwsUnavailableReason();
    if (reason === null) {
      try {
        // Lazy: the node engine must work where the package is absent or broken.
        const binding: unknown = (await import('uWebSockets.js')).default;
        if (isNativeBinding(binding)) {
          const { createUwsEngine } = await import('./uws.js');
          return createUwsEngine(handler, log);
        }
        reason = 'the package loaded its pure-JS fallback';
      } catch (err) {
        reason = `cannot load the package: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    log(`uWebSockets.js native binding unavailable (${reason}); using the node:http engine`);
  }
  return createNodeEngine(handler, log);
}
