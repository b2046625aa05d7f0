// What each pattern matches in the source's catalog, read the way pg_dump reads it
// (expand_schema_name_patterns, expand_table_name_patterns), and the patterns pg_dump would refuse.
import type pg from 'pg'
import { pinSearchPath } from '../pg/connection.js'
import { MATCHES_ALL, patternToRegex } from './patterns.js'
import { PATTERN_INPUTS, type PatternList, type ScopePatterns } from './types.js'

/** A pattern pg_dump would refuse, or one that matches nothing (an exclude pattern too). */
export interface PatternProblem {
  list: PatternList
  pattern: string
  message: string
}

export interface Relation {
  schema: string
  name: string
  kind: string
}

/** A relation and the first pattern of its list that matched it. */
export interface RelationMatch {
  relation: Relation
  pattern: string
}

/** Each list's matches, keyed by schema name (schema lists) or by key(schema, name) (relation lists). */
export interface PatternMatches {
  included: Map<string, string>
  excluded: Map<string, string>
  tables: Map<string, RelationMatch>
  excludedTables: Map<string, RelationMatch>
  dataExcluded: Map<string, RelationMatch>
}

/** What every list's matching needs, and where it records what pg_dump would refuse. */
interface MatchContext {
  client: pg.Client
  patterns: ScopePatterns
  database: string
  problems: PatternProblem[]
}

const RELATION_KINDS = `ARRAY['r', 'S', 'v', 'm', 'f', 'p']::pg_catalog."char"[]`
export const key = (schema: string, name: string): string => JSON.stringify([schema, name])

/**
 * Every list's matches, on the login's default search_path (see onLoginSearchPath), and every
 * problem pg_dump would meet with them, in the order it would meet them.
 */
export async function matchPatterns(
  client: pg.Client,
  patterns: ScopePatterns,
  database: string
): Promise<{ matches: PatternMatches; problems: PatternProblem[] }> {
  const context: MatchContext = { client, patterns, database, problems: [] }
  const matches = await onLoginSearchPath(client, async () => ({
    included: await matchSchemaList(context, 'schemas'),
    excluded: await matchSchemaList(context, 'excludeSchemas'),
    tables: await matchRelationList(context, 'tables'),
    excludedTables: await matchRelationList(context, 'excludeTables'),
    dataExcluded: await matchRelationList(context, 'excludeTableData')
  }))
  context.problems.push(...systemSchemaProblems(matches))
  return { matches, problems: context.problems }
}

async function matchSchemaList(context: MatchContext, list: PatternList): Promise<Map<string, string>> {
  const matched = new Map<string, string>()
  for (const text of context.patterns[list]) {
    const pattern = patternToRegex(text, 1)
    if (pattern.dots > 0) {
      context.problems.push({ list, pattern: text, message: improper(list, text, pattern.dots > 1) })
      continue
    }
    const names = await matchSchemas(context.client, pattern.name).catch(invalidPattern(context, list, text))
    if (!names) continue
    if (names.length === 0) unmatched(context, list, text, `schema in database ${context.database}`)
    for (const name of names) if (!matched.has(name)) matched.set(name, text)
  }
  return matched
}

async function matchRelationList(context: MatchContext, list: PatternList): Promise<Map<string, RelationMatch>> {
  const matched = new Map<string, RelationMatch>()
  for (const text of context.patterns[list]) {
    const pattern = patternToRegex(text, 3)
    if (pattern.dots > 2 || (pattern.dots === 2 && pattern.database !== context.database)) {
      context.problems.push({ list, pattern: text, message: improper(list, text, pattern.dots > 2) })
      continue
    }
    const relations = await matchRelations(context.client, pattern.name, pattern.schema).catch(
      invalidPattern(context, list, text)
    )
    if (!relations) continue
    if (relations.length === 0)
      unmatched(context, list, text, `table, view, sequence or foreign table in database ${context.database}`)
    for (const relation of relations) {
      const k = key(relation.schema, relation.name)
      if (!matched.has(k)) matched.set(k, { relation, pattern: text })
    }
  }
  return matched
}

function unmatched(context: MatchContext, list: PatternList, pattern: string, what: string): void {
  context.problems.push({ list, pattern, message: `${PATTERN_INPUTS[list]} pattern "${pattern}" matches no ${what}` })
}

// Outside quotes a pattern is a regular expression the server may refuse, as it would pg_dump's.
const invalidPattern =
  (context: MatchContext, list: PatternList, text: string) =>
  (error: { code?: string; message: string }): undefined => {
    if (error.code !== '2201B') throw error
    context.problems.push({
      list,
      pattern: text,
      message: `${PATTERN_INPUTS[list]} pattern "${text}" is not valid: ${error.message}`
    })
    return undefined
  }

/**
 * pg_dump takes a pattern that matches its own catalogs (`*`, or a bare `*` table pattern, which
 * sees pg_catalog first on every search_path) and dumps them; no restore survives that.
 */
function systemSchemaProblems({ included, tables }: PatternMatches): PatternProblem[] {
  const problems: PatternProblem[] = []
  for (const [list, matches] of [
    ['schemas', [...included].map(([schema, pattern]) => ({ schema, pattern }))],
    ['tables', [...tables.values()].map(({ relation, pattern }) => ({ schema: relation.schema, pattern }))]
  ] as const) {
    const byPattern = new Map<string, Set<string>>()
    for (const { schema, pattern } of matches)
      if (isSystemSchema(schema)) byPattern.set(pattern, (byPattern.get(pattern) ?? new Set()).add(schema))
    for (const [pattern, schemas] of byPattern)
      problems.push({
        list,
        pattern,
        message: `${PATTERN_INPUTS[list]} pattern "${pattern}" matches PostgreSQL's own schemas (${[...schemas].sort().join(', ')}): pg_dump would dump the system catalogs, and no restore takes them`
      })
  }
  return problems
}

/**
 * Runs the pattern queries on the login's own search_path, as pg_dump does (a one-part table pattern
 * sees what is visible there), then pins the session again. Those queries qualify every function,
 * operator and type: on that search_path an unqualified one could resolve to the database's own.
 */
async function onLoginSearchPath<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query('RESET search_path')
  try {
    return await work()
  } finally {
    await pinSearchPath(client)
  }
}

function improper(list: PatternList, pattern: string, tooMany: boolean): string {
  if (tooMany)
    return `${PATTERN_INPUTS[list]} pattern "${pattern}" has too many dotted names (pg_dump: improper ${list === 'schemas' || list === 'excludeSchemas' ? 'qualified' : 'relation'} name)`
  return `${PATTERN_INPUTS[list]} pattern "${pattern}" names another database (pg_dump: cross-database references are not implemented)`
}

async function matchSchemas(client: pg.Client, regex: string): Promise<string[]> {
  const condition = regex === MATCHES_ALL ? '' : 'WHERE n.nspname OPERATOR(pg_catalog.~) $1 COLLATE pg_catalog.default'
  const { rows } = await client.query<{ name: string }>(
    `SELECT n.nspname AS name FROM pg_catalog.pg_namespace n ${condition}`,
    condition ? [regex] : []
  )
  return rows.map((row) => row.name)
}

async function matchRelations(
  client: pg.Client,
  nameRegex: string,
  schemaRegex: string | undefined
): Promise<Relation[]> {
  const params: string[] = []
  const conditions = [`c.relkind OPERATOR(pg_catalog.=) ANY (${RELATION_KINDS})`]
  if (nameRegex !== MATCHES_ALL) {
    params.push(nameRegex)
    conditions.push(`c.relname OPERATOR(pg_catalog.~) $${params.length} COLLATE pg_catalog.default`)
  }
  if (schemaRegex === undefined) conditions.push('pg_catalog.pg_table_is_visible(c.oid)')
  else if (schemaRegex !== MATCHES_ALL) {
    params.push(schemaRegex)
    conditions.push(`n.nspname OPERATOR(pg_catalog.~) $${params.length} COLLATE pg_catalog.default`)
  }
  const { rows } = await client.query<Relation>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::pg_catalog.text AS kind
       FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE ${conditions.join(' AND ')}`,
    params
  )
  return rows
}

const isSystemSchema = (schema: string): boolean => schema.startsWith('pg_') || schema === 'information_schema'
