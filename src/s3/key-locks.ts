// Per-key critical sections inside one process. Held only for "rename into place + metadata
// commit" (milliseconds), never while a body streams, so concurrent writers of one key cannot
// leave bytes of one upload under the metadata of another.
const tails = new Map<string, Promise<void>>();

export async function withKeyLock<T>(bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
  const id = `${bucket}\0${key}`;
  const previous = tails.get(id) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  tails.set(id, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (tails.get(id) === tail) tails.delete(id);
  }
}
