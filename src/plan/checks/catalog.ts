// Small pieces of catalog SQL the probes share.
import type pg from 'pg'

/** OIDs below this belong to the system; pg_dump leaves such objects out. */
export const FIRST_NORMAL_OID = 16384

/** SQL condition: the namespace named by `nspname` holds user objects (not system, toast or temp). */
export function userNamespace(nspname: string): string {
  return `(${nspname} NOT IN ('pg_catalog', 'information_schema') AND ${nspname} NOT LIKE 'pg\\_toast%' AND ${nspname} NOT LIKE 'pg\\_temp%')`
}

/** SQL condition: the object is not a member of an extension (the extension script creates it, not the dump). */
export function notInExtension(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND ext.objid = ${oid} AND ext.deptype = 'e')`
}

/**
 * SQL condition: the function is one pg_dump writes a CREATE FUNCTION for. Aggregates are written as
 * CREATE AGGREGATE, and functions another CREATE made by itself (the constructors of a range type and
 * its multirange, an internal dependency) come back with that CREATE.
 */
export function dumpedAsFunction(proc: string): string {
  return `(${proc}.prokind <> 'a' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND dep.objid = ${proc}.oid AND dep.deptype = 'i'))`
}

/** Runs a query whose rows carry a `name` column and returns the names, in order. */
export async function names(client: pg.Client, sql: string, params: unknown[] = []): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(sql, params)
  return rows.map((row) => row.name)
}

/** Sorted, without duplicates. */
export function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)].sort()
}

/** True when the release `crossing` lies after the source and no later than the target. */
export function crosses(sourceMajor: number, targetMajor: number, crossing: number): boolean {
  return sourceMajor < crossing && crossing <= targetMajor
}

/**
 * Runs `work` in a read-only transaction and always ends it: the probes that change settings for a
 * moment (search_path) do it with SET LOCAL inside one, so the session is left as it was.
 */
export async function readOnly<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN TRANSACTION READ ONLY')
  try {
    return await work()
  } finally {
    await client.query('ROLLBACK')
  }
}

/** Joins names for a message: "a, b and 3 more". */
export function list(objects: string[], max = 5): string {
  if (objects.length <= max) return objects.join(', ')
  return `${objects.slice(0, max).join(', ')} and ${objects.length - max} more`
}

/** "1 function", "2 functions". */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`
}
