// `bleepstore-meta import`: loads an export document into an existing SQLite database
// (serialization.md §3) in one transaction. Merge mode keeps existing rows (INSERT OR IGNORE);
// replace mode empties the imported tables first.
import Database from 'better-sqlite3';
import { stringifyCompactSorted, type JsonValue } from './canonical-json.js';
import { EXPORT_FORMAT_VERSION } from './export.js';
import { DELETE_ORDER, INSERT_ORDER, JSON_COLUMNS, REDACTED, type TableName } from './tables.js';

export type ImportMode = 'merge' | 'replace';

export interface TableImportCount {
  table: TableName;
  imported: number;
  skipped: number;
}

export interface ImportResult {
  counts: TableImportCount[];
  warnings: string[];
}

type SqlParam = string | number | null;

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toSql(column: string, value: JsonValue | undefined): SqlParam {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (JSON_COLUMNS.has(column)) return typeof value === 'string' ? value : stringifyCompactSorted(value);
  if (typeof value === 'number' || typeof value === 'string') return value;
  return stringifyCompactSorted(value);
}

function parseDocument(text: string): { [key: string]: JsonValue } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`input is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new Error('input is not an export document (expected a JSON object)');
  const envelope = doc.bleepstore_export;
  const version = isObject(envelope) ? envelope.version : undefined;
  if (typeof version !== 'number' || version < 1 || version > EXPORT_FORMAT_VERSION) {
    throw new Error(`Unsupported export version: ${JSON.stringify(version ?? null)}`);
  }
  return doc;
}

export function importDocument(dbPath: string, text: string, mode: ImportMode): ImportResult {
  const doc = parseDocument(text);
  const present = INSERT_ORDER.filter((t) => Array.isArray(doc[t]));
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const columnsOf = (table: TableName): string[] => {
      const cols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
      if (cols.length === 0) throw new Error(`table ${table} does not exist (create the schema first)`);
      return cols;
    };
    const warnings: string[] = [];
    const counts: TableImportCount[] = [];
    db.transaction(() => {
      const columns = new Map(present.map((t) => [t, columnsOf(t)] as const));
      if (mode === 'replace') {
        for (const table of DELETE_ORDER) if (present.includes(table)) db.prepare(`DELETE FROM ${table}`).run();
      }
      for (const table of present) {
        const cols = columns.get(table) ?? [];
        const verb = mode === 'merge' ? 'INSERT OR IGNORE' : 'INSERT';
        const insert = db.prepare(`${verb} INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
        const count: TableImportCount = { table, imported: 0, skipped: 0 };
        for (const row of doc[table] as JsonValue[]) {
          if (!isObject(row)) {
            count.skipped++;
            warnings.push(`Skipped ${table} row: not a JSON object`);
            continue;
          }
          if (table === 'credentials' && row.secret_key === REDACTED) {
            count.skipped++;
            warnings.push(`Skipped credential '${String(row.access_key_id)}': REDACTED secret_key`);
            continue;
          }
          try {
            const { changes } = insert.run(...cols.map((c) => toSql(c, row[c])));
            if (changes > 0) count.imported++;
            else count.skipped++; // INSERT OR IGNORE kept the existing row
          } catch (e) {
            count.skipped++;
            warnings.push(`Skipped ${table} row: ${(e as Error).message}`);
          }
        }
        counts.push(count);
      }
    }).immediate();
    return { counts, warnings };
  } finally {
    db.close();
  }
}
