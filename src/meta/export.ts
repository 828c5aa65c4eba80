// `bleepstore-meta export`: the SQLite metadata database as the canonical JSON document
// (serialization.md §2). Opens the file read-only and never goes through the MetadataStore.
import Database from 'better-sqlite3';
import { stringifySorted, type JsonValue } from './canonical-json.js';
import { BOOLEAN_COLUMNS, JSON_COLUMNS, ORDER_BY, REDACTED, type TableName } from './tables.js';

export const EXPORT_FORMAT_VERSION = 1;

export interface ExportOptions {
  tables: readonly TableName[];
  includeCredentials: boolean;
  /** `{implementation}/{version}`, e.g. typescript/0.1.0 */
  source: string;
  now?: Date;
}

type SqlValue = string | number | bigint | Buffer | null;

function parseJsonColumn(text: SqlValue): JsonValue {
  if (text === null) return null;
  try {
    return JSON.parse(String(text)) as JsonValue;
  } catch {
    return {};
  }
}

function exportValue(column: string, value: SqlValue): JsonValue {
  if (JSON_COLUMNS.has(column)) return parseJsonColumn(value);
  if (BOOLEAN_COLUMNS.has(column)) return value === null ? null : Number(value) !== 0;
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return value.toString('base64'); // no BLOB columns in the schema; kept total anyway
}

function schemaVersion(db: Database.Database): number {
  try {
    const row = db.prepare('SELECT version FROM schema_version ORDER BY version DESC LIMIT 1').get() as { version: number } | undefined;
    return row?.version ?? 1;
  } catch {
    return 1; // no schema_version table
  }
}

/** The export document; `JSON text + "\n"` is what goes to a file or stdout. */
export function exportDatabase(dbPath: string, options: ExportOptions): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const doc: { [key: string]: JsonValue } = {
      bleepstore_export: {
        exported_at: (options.now ?? new Date()).toISOString(),
        schema_version: schemaVersion(db),
        source: options.source,
        version: EXPORT_FORMAT_VERSION,
      },
    };
    for (const table of options.tables) {
      const rows = db.prepare(`SELECT * FROM ${table} ORDER BY ${ORDER_BY[table]}`).all() as Record<string, SqlValue>[];
      doc[table] = rows.map((row) => {
        const out: { [key: string]: JsonValue } = {};
        for (const column of Object.keys(row)) out[column] = exportValue(column, row[column]);
        if (table === 'credentials' && !options.includeCredentials) out.secret_key = REDACTED;
        return out;
      });
    }
    return stringifySorted(doc) + '\n';
  } finally {
    db.close();
  }
}
