// The bounded buffer both streaming gateways fill from a request body: the AWS gateway cuts it
// into multipart parts (aws-staging.ts), the Azure gateway into blocks (azure-blocks.ts).

/** Collects chunks until a part's or block's worth is there, then hands out exactly that many bytes. */
export class ChunkBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;

  get size(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Removes and returns the first `n` bytes (all of them when n ≥ size). */
  take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    const head = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(head.length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bytes = rest.length;
    return head;
  }
}
