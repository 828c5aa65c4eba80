// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF).
// Node has no built-in CRC-32C, so this is a slice-by-8 table implementation: eight bytes per
// loop iteration through eight 256-entry tables instead of one table lookup per byte.

const REFLECTED_POLY = 0x82f63b78;

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) tables.push(new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ REFLECTED_POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  // Table k advances a byte that sits k positions further from the end of the 8-byte block.
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Uint32Array;
    const cur = tables[k] as Uint32Array;
    for (let i = 0; i < 256; i++) {
      const p = prev[i] as number;
      cur[i] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

/**
 * Continues a CRC-32C over `data`. `crc` is the finalised value of the bytes so far (0 to start),
 * so `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)` — the same contract as zlib.crc32.
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  const n = data.length;
  const blockEnd = n - (n & 7);
  let i = 0;
  while (i < blockEnd) {
    const a = c ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
    const b = (data[i + 4] as number) | ((data[i + 5] as number) << 8) | ((data[i + 6] as number) << 16) | ((data[i + 7] as number) << 24);
    c =
      (T7[a & 0xff] as number) ^
      (T6[(a >>> 8) & 0xff] as number) ^
      (T5[(a >>> 16) & 0xff] as number) ^
      (T4[a >>> 24] as number) ^
      (T3[b & 0xff] as number) ^
      (T2[(b >>> 8) & 0xff] as number) ^
      (T1[(b >>> 16) & 0xff] as number) ^
      (T0[b >>> 24] as number);
    i += 8;
  }
  for (; i < n; i++) c = (c >>> 8) ^ (T0[(c ^ (data[i] as number)) & 0xff] as number);
  return ~c >>> 0;
}
