#!/usr/bin/env node
// `bleepstore-meta` — export / import the SQLite metadata database as canonical JSON
// (spec/serialization.md §1). Works offline on the database file; exit 0 on success, 1 on any
// error with `Error: ...` on stderr.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { exportDatabase } from './export.js';
import { importDocument, type ImportMode, type ImportResult } from './import.js';
import { TABLES, parseTableList } from './tables.js';

const USAGE = `Usage:
  bleepstore-meta export [--config FILE] [--db PATH] [--format json] [--output FILE|-]
                         [--tables t1,t2,...] [--include-credentials]
  bleepstore-meta import [--config FILE] [--db PATH] [--input FILE|-] [--merge | --replace]
Tables: ${TABLES.join(', ')}`;

const DEFAULT_CONFIG = 'bleepstore.yaml';
const DEFAULT_DB = './data/metadata.db';

class UsageError extends Error {}

function packageVersion(): string {
  try {
    // dist/src/meta/cli.js and src/meta/cli.ts are both three levels below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** --db wins; else metadata.sqlite.path from the YAML file (whatever metadata.engine says). */
function resolveDbPath(db: string | undefined, config: string | undefined): string {
  if (db !== undefined) return db;
  const file = config ?? DEFAULT_CONFIG;
  if (!existsSync(file)) {
    if (config !== undefined) throw new Error(`config file not found: ${config}`);
    return DEFAULT_DB;
  }
  const doc = parseYaml(readFileSync(file, 'utf8')) as { metadata?: { sqlite?: { path?: unknown } } } | null;
  const path = doc?.metadata?.sqlite?.path;
  return typeof path === 'string' && path !== '' ? path : DEFAULT_DB;
}

function readInput(input: string): string {
  return input === '-' ? readFileSync(0, 'utf8') : readFileSync(input, 'utf8');
}

function report(result: ImportResult): void {
  for (const { table, imported, skipped } of result.counts) {
    process.stderr.write(`  ${table}: ${imported} imported${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  }
  for (const warning of result.warnings) process.stderr.write(`  WARNING: ${warning}\n`);
}

function run(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (command !== 'export' && command !== 'import') throw new UsageError(`expected a command, export or import\n${USAGE}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      db: { type: 'string' },
      format: { type: 'string' },
      output: { type: 'string' },
      tables: { type: 'string' },
      'include-credentials': { type: 'boolean' },
      input: { type: 'string' },
      merge: { type: 'boolean' },
      replace: { type: 'boolean' },
    },
    strict: true,
  });
  const dbPath = resolveDbPath(values.db, values.config);

  if (command === 'export') {
    for (const flag of ['input', 'merge', 'replace'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} is an import option`);
    }
    const format = values.format ?? 'json';
    if (format !== 'json') throw new UsageError(`unsupported format: ${format} (only json)`);
    const tables = values.tables === undefined ? [...TABLES] : parseTableList(values.tables);
    const text = exportDatabase(dbPath, {
      tables,
      includeCredentials: values['include-credentials'] === true,
      source: `typescript/${packageVersion()}`,
    });
    const output = values.output ?? '-';
    if (output === '-') {
      process.stdout.write(text);
    } else {
      writeFileSync(output, text);
      process.stderr.write(`Exported to ${output}\n`);
    }
    return;
  }

  for (const flag of ['output', 'tables', 'include-credentials', 'format'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is an export option`);
  }
  if (values.merge && values.replace) throw new UsageError('--merge and --replace are mutually exclusive');
  const mode: ImportMode = values.replace ? 'replace' : 'merge';
  report(importDocument(dbPath, readInput(values.input ?? '-'), mode));
}

try {
  run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
