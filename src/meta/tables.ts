// The five exported tables and how their columns map to JSON (serialization.md §2-3).

export const TABLES = ['buckets', 'objects', 'multipart_uploads', 'multipart_parts', 'credentials'] as const;
export type TableName = (typeof TABLES)[number];

/** Export row order (SQLite's BINARY collation = byte order). */
export const ORDER_BY: Record<TableName, string> = {
  buckets: 'name',
  objects: 'bucket, key',
  multipart_uploads: 'upload_id',
  multipart_parts: 'upload_id, part_number',
  credentials: 'access_key_id',
};

/** Import order (parents before children) and replace-mode delete order (children first). */
export const INSERT_ORDER: readonly TableName[] = ['buckets', 'objects', 'multipart_uploads', 'multipart_parts', 'credentials'];
export const DELETE_ORDER: readonly TableName[] = ['multipart_parts', 'multipart_uploads', 'objects', 'buckets', 'credentials'];

/** Columns holding JSON text in SQLite and real JSON values in the export. */
export const JSON_COLUMNS: ReadonlySet<string> = new Set(['acl', 'user_metadata']);
/** 0/1 integer columns exported as booleans. */
export const BOOLEAN_COLUMNS: ReadonlySet<string> = new Set(['delete_marker', 'active']);

export const REDACTED = 'REDACTED';

export function isTableName(name: string): name is TableName {
  return (TABLES as readonly string[]).includes(name);
}

/** Parses `--tables a, b`; throws the spec's message for unknown names. */
export function parseTableList(list: string): TableName[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const invalid = names.filter((n) => !isTableName(n));
  if (invalid.length > 0) throw new Error(`invalid table names: ${invalid.join(', ')}`);
  return TABLES.filter((t) => names.includes(t));
}
