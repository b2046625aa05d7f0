// A dump's table of contents, and the object each entry makes, named as pg_identify_object_as_address
// names it: the same name finds the object on the target (pg_get_object_address), whatever its OID
// there. A resumed run restores exactly the entries whose objects the target lacks.
import type pg from 'pg'
import type { Log } from '../base/log.js'
import type { Client } from './client/install.js'
import type { ToolRunner } from './run-tool.js'

/** What one entry makes, when the entry makes an object. */
export interface TocObject {
  /** The object, as the source named it: the catalog it lives in, and its address there. */
  address?: { catalog: string; type: string; names: string[]; args: string[] }
  /** TABLE ATTACH and INDEX ATTACH: the partition, or partition index, that is attached. */
  attach?: { kind: 'table' | 'index'; schema: string; name: string }
}

/** One line of `pg_restore --list`. */
export interface TocEntry {
  id: string
  /** The source catalog's OID and the object's OID; 0 where the entry has none. */
  catalog: number
  oid: number
  /** "TABLE", "TABLE DATA", "INDEX ATTACH"…, followed by schema, name and owner. */
  rest: string
}

const LINE = /^(\d+); (\d+) (\d+) (.+)$/

export function parseTocLine(line: string): TocEntry | undefined {
  const match = LINE.exec(line)
  if (!match) return undefined
  return { id: match[1], catalog: Number(match[2]), oid: Number(match[3]), rest: match[4] }
}

/** Entries that load data into the relation their OID names (catalog 0, OID of the relation). */
export const RELATION_DATA = /^(TABLE DATA|MATERIALIZED VIEW DATA|ROW SECURITY) /

/** The dump's table of contents, as pg_restore lists it (no connection needed). */
export async function listToc(tools: ToolRunner, client: Client, dumpDir: string): Promise<string[]> {
  const lines: string[] = []
  await tools.run(client.programs.pg_restore, ['--list', dumpDir], { env: {}, onStdout: (line) => lines.push(line) })
  return lines.filter((line) => LINE.test(line))
}

const PG_CLASS = 1259

/**
 * The object each entry makes, read on the source. Runs in `client`'s transaction (the dump's
 * snapshot) under savepoints: an object dropped since the dump makes its catalog's batch fail on
 * some versions, and then only that batch goes without names.
 */
export async function tocObjects(client: pg.Client, lines: string[], log: Log): Promise<Record<string, TocObject>> {
  const entries = lines.flatMap((line) => parseTocLine(line) ?? [])
  const objects: Record<string, TocObject> = {}
  const byCatalog = new Map<number, TocEntry[]>()
  for (const entry of entries) {
    const catalog =
      entry.catalog !== 0 ? entry.catalog : entry.oid !== 0 && RELATION_DATA.test(entry.rest) ? PG_CLASS : 0
    if (catalog === 0) continue
    byCatalog.set(catalog, [...(byCatalog.get(catalog) ?? []), entry])
  }
  for (const [catalog, batch] of byCatalog) {
    await client.query('SAVEPOINT toc_objects')
    try {
      const { rows } = await client.query<{
        id: string
        catalog: string
        type: string
        names: string[]
        args: string[]
      }>(
        `SELECT t.id, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.oid) AS catalog,
                a.type, a.object_names AS names, a.object_args AS args
           FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::pg_catalog.oid[])) AS t(id, objid)
           CROSS JOIN LATERAL pg_catalog.pg_identify_object_as_address($1::pg_catalog.oid, t.objid, 0) AS a
          WHERE a.type IS NOT NULL`,
        [catalog, batch.map((e) => e.id), batch.map((e) => e.oid)]
      )
      await client.query('RELEASE SAVEPOINT toc_objects')
      for (const row of rows)
        objects[row.id] = { address: { catalog: row.catalog, type: row.type, names: row.names, args: row.args } }
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT toc_objects')
      log.warning(
        `could not name the objects of ${batch.length} dump entries (catalog ${catalog}): ${(error as Error).message}; a resumed run restores what it cannot name only when a table it loads needs it`
      )
    }
  }
  await attachments(client, entries, objects)
  return objects
}

/**
 * ATTACH entries carry no OIDs, only the attached relation's schema and name (and its owner), as
 * pg_restore prints them: matched against the source's partitions and partition indexes.
 */
async function attachments(client: pg.Client, entries: TocEntry[], objects: Record<string, TocObject>): Promise<void> {
  const attaching = entries.filter((e) => /^(TABLE|INDEX) ATTACH /.test(e.rest))
  if (attaching.length === 0) return
  const { rows } = await client.query<{ kind: 'table' | 'index'; schema: string; name: string; owner: string }>(
    `SELECT CASE WHEN c.relkind IN ('i', 'I') THEN 'index' ELSE 'table' END AS kind, n.nspname AS schema, c.relname AS name,
            pg_catalog.pg_get_userbyid(c.relowner) AS owner
       FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relispartition OR c.relkind IN ('i', 'I')`
  )
  // pg_restore prints names with line breaks as spaces.
  const shown = (text: string): string => text.replace(/[\r\n]/g, ' ')
  for (const entry of attaching) {
    const match = rows.find(
      (r) => entry.rest === `${r.kind.toUpperCase()} ATTACH ${shown(r.schema)} ${shown(r.name)} ${shown(r.owner)}`
    )
    if (match) objects[entry.id] = { attach: { kind: match.kind, schema: match.schema, name: match.name } }
  }
}
