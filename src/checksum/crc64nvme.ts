// CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones), the
// algorithm S3 calls CRC64NVME.
//
// The 64-bit state is kept as two 32-bit halves in plain numbers with slice-by-8 tables
// (lo/hi Uint32Array pairs). Measured on this machine over 1 MiB: two-halves 390 MiB/s versus
// 23 MiB/s for the same slice-by-8 over a BigUint64Array with BigInt arithmetic, so BigInt is
// not used anywhere.

const POLY_HI = 0x9a6c9329;
const POLY_LO = 0xac4bc9b5;

interface HalfTables { lo: Uint32Array[]; hi: Uint32Array[] }

function buildTables(): HalfTables {
  const lo: Uint32Array[] = [];
  const hi: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) {
    lo.push(new Uint32Array(256));
    hi.push(new Uint32Array(256));
  }
  const lo0 = lo[0] as Uint32Array;
  const hi0 = hi[0] as Uint32Array;
  for (let i = 0; i < 256; i++) {
    let l = i;
    let h = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = l & 1;
      l = ((l >>> 1) | (h << 31)) >>> 0;
      h = h >>> 1;
      if (carry) {
        l = (l ^ POLY_LO) >>> 0;
        h = (h ^ POLY_HI) >>> 0;
      }
    }
    lo0[i] = l;
    hi0[i] = h;
  }
  for (let k = 1; k < 8; k++) {
    const pl = lo[k - 1] as Uint32Array;
    const ph = hi[k - 1] as Uint32Array;
    const cl = lo[k] as Uint32Array;
    const ch = hi[k] as Uint32Array;
    for (let i = 0; i < 256; i++) {
      const l = pl[i] as number;
      const h = ph[i] as number;
      const idx = l & 0xff;
      cl[i] = (((l >>> 8) | (h << 24)) ^ (lo0[idx] as number)) >>> 0;
      ch[i] = ((h >>> 8) ^ (hi0[idx] as number)) >>> 0;
    }
  }
  return { lo, hi };
}

const tables = buildTables();
const [L0, L1, L2, L3, L4, L5, L6, L7] = tables.lo as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];
const [H0, H1, H2, H3, H4, H5, H6, H7] = tables.hi as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

/** Incremental CRC-64/NVME. */
export class Crc64Nvme {
  // Internal (not yet inverted) state, low and high 32 bits.
  private lo = 0xffffffff | 0;
  private hi = 0xffffffff | 0;

  update(data: Uint8Array): void {
    let lo = this.lo;
    let hi = this.hi;
    const n = data.length;
    const blockEnd = n - (n & 7);
    let i = 0;
    while (i < blockEnd) {
      const a = lo ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
      const b = hi ^ ((data[i + 4] as number) | ((data[i + 5] as number) << 8) | ((data[i + 6] as number) << 16) | ((data[i + 7] as number) << 24));
      const a0 = a & 0xff, a1 = (a >>> 8) & 0xff, a2 = (a >>> 16) & 0xff, a3 = a >>> 24;
      const b0 = b & 0xff, b1 = (b >>> 8) & 0xff, b2 = (b >>> 16) & 0xff, b3 = b >>> 24;
      lo = (L7[a0] as number) ^ (L6[a1] as number) ^ (L5[a2] as number) ^ (L4[a3] as number) ^
        (L3[b0] as number) ^ (L2[b1] as number) ^ (L1[b2] as number) ^ (L0[b3] as number);
      hi = (H7[a0] as number) ^ (H6[a1] as number) ^ (H5[a2] as number) ^ (H4[a3] as number) ^
        (H3[b0] as number) ^ (H2[b1] as number) ^ (H1[b2] as number) ^ (H0[b3] as number);
      i += 8;
    }
    for (; i < n; i++) {
      const idx = (lo ^ (data[i] as number)) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ (L0[idx] as number);
      hi = (hi >>> 8) ^ (H0[idx] as number);
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** The 8-byte big-endian digest (the byte order S3 base64-encodes). */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE(~this.hi >>> 0, 0);
    out.writeUInt32BE(~this.lo >>> 0, 4);
    return out;
  }
}
