// What pg_dump will select with these patterns, read from the source's catalog the way pg_dump
// reads it (expand_schema_name_patterns, expand_table_name_patterns, selectDumpableNamespace,
// selectDumpableTable, getOwnedSeqs), and kept by name.
import type pg from 'pg'
import { pinSearchPath } from '../pg/connection.js'
import { MATCHES_ALL, patternToRegex } from './patterns.js'
import { scopeDependencies, type UnmetDependency } from './dependencies.js'
import {
  isScoped,
  PATTERN_INPUTS,
  type LeftOut,
  type PatternList,
  type QualifiedName,
  type ResolvedScope,
  type ScopePatterns
} from './types.js'

/** A pattern pg_dump would refuse, or one that matches nothing (an exclude pattern too). */
export interface PatternProblem {
  list: PatternList
  pattern: string
  message: string
}

export interface ScopeResolution {
  /** Undefined when no pattern is given: the whole database moves. */
  scope?: ResolvedScope
  problems: PatternProblem[]
  /** Moving objects that need objects which do not move and which the run cannot make. */
  unmet: UnmetDependency[]
}

interface Relation {
  schema: string
  name: string
  kind: string
}

const RELATION_KINDS = `ARRAY['r', 'S', 'v', 'm', 'f', 'p']::pg_catalog."char"[]`
const key = (schema: string, name: string): string => JSON.stringify([schema, name])

/**
 * Resolves the patterns in this session (inside the dump's snapshot when the client holds it, so
 * the answer is pg_dump's). A one-part table pattern matches only tables visible on the login's
 * default search_path, as pg_dump's does, which resets search_path for that query.
 */
export async function resolveScope(
  client: pg.Client,
  patterns: ScopePatterns | undefined,
  options: { readRows: boolean } = { readRows: true }
): Promise<ScopeResolution> {
  if (!isScoped(patterns)) return { problems: [], unmet: [] }
  const { rows } = await client.query<{ database: string }>('SELECT pg_catalog.current_database() AS database')
  const database = rows[0].database
  const problems: PatternProblem[] = []
  const unmatched = (list: PatternList, pattern: string, what: string): void => {
    problems.push({ list, pattern, message: `${PATTERN_INPUTS[list]} pattern "${pattern}" matches no ${what}` })
  }

  const schemaMatches = async (list: PatternList): Promise<Map<string, string>> => {
    const matched = new Map<string, string>()
    for (const text of patterns[list]) {
      const pattern = patternToRegex(text, 1)
      if (pattern.dots > 0) {
        problems.push({ list, pattern: text, message: improper(list, text, pattern.dots > 1) })
        continue
      }
      const names = await matchSchemas(client, pattern.name).catch(invalidPattern(list, text))
      if (!names) continue
      if (names.length === 0) unmatched(list, text, `schema in database ${database}`)
      for (const name of names) if (!matched.has(name)) matched.set(name, text)
    }
    return matched
  }
  const relationMatches = async (list: PatternList): Promise<Map<string, { relation: Relation; pattern: string }>> => {
    const matched = new Map<string, { relation: Relation; pattern: string }>()
    for (const text of patterns[list]) {
      const pattern = patternToRegex(text, 3)
      if (pattern.dots > 2 || (pattern.dots === 2 && pattern.database !== database)) {
        problems.push({ list, pattern: text, message: improper(list, text, pattern.dots > 2) })
        continue
      }
      const relations = await matchRelations(client, pattern.name, pattern.schema).catch(invalidPattern(list, text))
      if (!relations) continue
      if (relations.length === 0)
        unmatched(list, text, `table, view, sequence or foreign table in database ${database}`)
      for (const relation of relations) {
        const k = key(relation.schema, relation.name)
        if (!matched.has(k)) matched.set(k, { relation, pattern: text })
      }
    }
    return matched
  }

  // Outside quotes a pattern is a regular expression the server may refuse, as it would pg_dump's.
  const invalidPattern =
    (list: PatternList, text: string) =>
    (error: { code?: string; message: string }): undefined => {
      if (error.code !== '2201B') throw error
      problems.push({
        list,
        pattern: text,
        message: `${PATTERN_INPUTS[list]} pattern "${text}" is not valid: ${error.message}`
      })
      return undefined
    }
  const { included, excluded, tables, excludedTables, dataExcludedMatches } = await onLoginSearchPath(
    client,
    async () => ({
      included: await schemaMatches('schemas'),
      excluded: await schemaMatches('excludeSchemas'),
      tables: await relationMatches('tables'),
      excludedTables: await relationMatches('excludeTables'),
      dataExcludedMatches: await relationMatches('excludeTableData')
    })
  )
  // pg_dump takes a pattern that matches its own catalogs (`*`, or a bare `*` table pattern, which
  // sees pg_catalog first on every search_path) and dumps them; no restore survives that.
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
  if (problems.length > 0) return { problems, unmet: [] }

  const tablesMode = patterns.tables.length > 0
  const userSchemas = await listUserSchemas(client)
  const leftOut: LeftOut[] = []
  let schemas: string[] | undefined
  if (tablesMode) {
    schemas = []
  } else if (patterns.schemas.length > 0 || patterns.excludeSchemas.length > 0) {
    const candidates = patterns.schemas.length > 0 ? [...included.keys()] : userSchemas
    schemas = candidates.filter((schema) => !excluded.has(schema)).sort()
    for (const schema of userSchemas) {
      if (schemas.includes(schema)) continue
      const pattern = excluded.get(schema)
      leftOut.push({
        what: `schema ${schema}`,
        why: pattern ? `${PATTERN_INPUTS.excludeSchemas}: ${pattern}` : `not in ${PATTERN_INPUTS.schemas}`
      })
    }
  }
  const schemaMoves = (schema: string): boolean => !schemas || schemas.includes(schema)

  // pg_dump selects each relation, then dumps a table's sequences with it (getOwnedSeqs): an
  // identity sequence exactly when its table, any other owned sequence also when its table moves.
  const selected = (schema: string, name: string): boolean =>
    (tablesMode ? tables.has(key(schema, name)) : schemaMoves(schema)) && !excludedTables.has(key(schema, name))
  const owned = tablesMode || excludedTables.size > 0 ? await ownedSequences(client) : []
  const finalState = new Map<string, boolean>()
  for (const sequence of owned) {
    const ownerSelected = selected(sequence.ownerSchema, sequence.ownerName)
    finalState.set(
      key(sequence.schema, sequence.name),
      sequence.identity ? ownerSelected : selected(sequence.schema, sequence.name) || ownerSelected
    )
  }
  const moves = (schema: string, name: string): boolean => finalState.get(key(schema, name)) ?? selected(schema, name)

  let relations: QualifiedName[] | undefined
  const excludedRelations: QualifiedName[] = []
  if (tablesMode) {
    const candidates = new Map(
      [...tables.values()].map(({ relation }) => [key(relation.schema, relation.name), relation])
    )
    for (const sequence of owned) candidates.set(key(sequence.schema, sequence.name), { ...sequence, kind: 'S' })
    relations = [...candidates.values()]
      .filter((relation) => moves(relation.schema, relation.name))
      .map((relation): QualifiedName => [relation.schema, relation.name])
      .sort(compareNames)
    leftOut.push({
      what: 'every other table, and all functions, types, domains and statistics',
      why: `${PATTERN_INPUTS.tables} given: pg_dump moves the tables it names with their indexes, constraints, triggers, rules, policies and sequences, and nothing else`
    })
  } else {
    const candidates = new Map(
      [...excludedTables.values()].map(({ relation, pattern }) => [
        key(relation.schema, relation.name),
        { relation, pattern }
      ])
    )
    for (const sequence of owned) {
      const owner = excludedTables.get(key(sequence.ownerSchema, sequence.ownerName))
      if (owner)
        candidates.set(key(sequence.schema, sequence.name), {
          relation: { ...sequence, kind: 'S' },
          pattern: owner.pattern
        })
    }
    for (const { relation, pattern } of candidates.values()) {
      if (!schemaMoves(relation.schema) || moves(relation.schema, relation.name)) continue
      excludedRelations.push([relation.schema, relation.name])
      leftOut.push({ what: describeRelation(relation), why: `${PATTERN_INPUTS.excludeTables}: ${pattern}` })
    }
    excludedRelations.sort(compareNames)
  }

  const dataExcluded: QualifiedName[] = []
  for (const { relation, pattern } of dataExcludedMatches.values()) {
    if (!moves(relation.schema, relation.name) || !['r', 'S', 'p', 'm'].includes(relation.kind)) continue
    dataExcluded.push([relation.schema, relation.name])
    const data = relation.kind === 'S' ? 'value' : relation.kind === 'm' ? 'contents' : 'rows'
    leftOut.push({
      what: `the ${data} of ${describeRelation(relation)}`,
      why: `${PATTERN_INPUTS.excludeTableData}: ${pattern} (its definition moves and is compared, its ${data} not)`
    })
  }
  dataExcluded.sort(compareNames)

  const everything = patterns.schemas.length === 0 && !tablesMode
  if (!everything)
    leftOut.push({
      what: 'extensions, large objects, the database settings and objects outside schemas (casts, languages, foreign servers, event triggers, publications)',
      why: `${PATTERN_INPUTS[tablesMode ? 'tables' : 'schemas']} given: pg_dump moves these only with the whole database`
    })
  const scope: ResolvedScope = {
    patterns,
    everything,
    ...(schemas ? { schemas } : {}),
    ...(relations ? { relations } : {}),
    excludedRelations,
    dataExcluded,
    prerequisites: { schemas: [], extensions: [] },
    leftOut
  }
  const dependencies = await scopeDependencies(client, scope, options)
  scope.prerequisites = dependencies.prerequisites
  return { scope, problems: [], unmet: dependencies.unmet }
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
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE ${conditions.join(' AND ')}`,
    params
  )
  return rows
}

const isSystemSchema = (schema: string): boolean => schema.startsWith('pg_') || schema === 'information_schema'

/** The schemas pg_dump dumps by default: all but pg_* and information_schema. */
async function listUserSchemas(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_catalog.pg_namespace
      WHERE nspname OPERATOR(pg_catalog.!~) '^pg_' AND nspname OPERATOR(pg_catalog.<>) 'information_schema' ORDER BY 1`
  )
  return rows.map((row) => row.name)
}

interface OwnedSequence extends Relation {
  ownerSchema: string
  ownerName: string
  identity: boolean
}

/** Sequences owned by a table column, as pg_dump reads them (pg_depend of type a or i). */
async function ownedSequences(client: pg.Client): Promise<OwnedSequence[]> {
  const { rows } = await client.query<OwnedSequence>(
    `SELECT sn.nspname AS schema, s.relname AS name, 'S' AS kind, tn.nspname AS "ownerSchema", t.relname AS "ownerName",
            d.deptype OPERATOR(pg_catalog.=) 'i' AS identity
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid AND s.relkind OPERATOR(pg_catalog.=) 'S'
       JOIN pg_catalog.pg_namespace sn ON sn.oid OPERATOR(pg_catalog.=) s.relnamespace
       JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) d.refobjid
       JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.relnamespace
      WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid OPERATOR(pg_catalog.=) 0
        AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::pg_catalog."char"[])`
  )
  return rows
}

const KINDS: Record<string, string> = {
  r: 'table',
  p: 'table',
  S: 'sequence',
  v: 'view',
  m: 'materialized view',
  f: 'foreign table'
}

function describeRelation(relation: Relation): string {
  return `${KINDS[relation.kind] ?? 'relation'} ${relation.schema}.${relation.name}`
}

export function compareNames(a: QualifiedName, b: QualifiedName): number {
  const x = key(...a)
  const y = key(...b)
  return x < y ? -1 : x > y ? 1 : 0
}
