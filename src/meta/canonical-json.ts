// The export's JSON layout (serialization.md §2): keys sorted by code point at every level,
// 2-space indent, `": "`, raw UTF-8, `[]`/`{}` for empty containers — what
// JSON.stringify(sortDeep(doc), null, 2) prints. Written by hand because JSON.stringify always
// puts integer-like keys ("1", "10", "9") first in numeric order, whatever the insertion order.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Code-point order (JS `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx - cy;
  }
}

function sortedKeys(obj: { [key: string]: JsonValue }): string[] {
  return Object.keys(obj).sort(compareCodePoints);
}

function write(value: JsonValue, indent: string, step: string, out: string[]): void {
  if (value === null || typeof value !== 'object') {
    out.push(JSON.stringify(value));
    return;
  }
  const inner = indent + step;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[\n');
    value.forEach((item, i) => {
      out.push(inner);
      write(item, inner, step, out);
      out.push(i < value.length - 1 ? ',\n' : '\n');
    });
    out.push(indent, ']');
    return;
  }
  const keys = sortedKeys(value);
  if (keys.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{\n');
  keys.forEach((key, i) => {
    out.push(inner, JSON.stringify(key), ': ');
    write(value[key], inner, step, out);
    out.push(i < keys.length - 1 ? ',\n' : '\n');
  });
  out.push(indent, '}');
}

/** Pretty form with sorted keys (the export document). */
export function stringifySorted(value: JsonValue, step = '  '): string {
  const out: string[] = [];
  write(value, '', step, out);
  return out.join('');
}

/** Compact form with sorted keys (`{"a":1,"b":2}`): how import stores acl / user_metadata. */
export function stringifyCompactSorted(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stringifyCompactSorted).join(',')}]`;
  return `{${sortedKeys(value)
    .map((k) => `${JSON.stringify(k)}:${stringifyCompactSorted(value[k])}`)
    .join(',')}}`;
}
