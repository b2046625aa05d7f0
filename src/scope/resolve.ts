// What pg_dump will select with these patterns, read from the source's catalog the way pg_dump
// reads it (match.ts expands the patterns as expand_schema_name_patterns and
// expand_table_name_patterns do; then selectDumpableNamespace, selectDumpableTable, getOwnedSeqs),
// and kept by name.
import type pg from 'pg'
import { scopeDependencies, type UnmetDependency } from './dependencies.js'
import {
  key,
  matchPatterns,
  type PatternMatches,
  type PatternProblem,
  type Relation,
  type RelationMatch
} from './match.js'
import {
  isScoped,
  PATTERN_INPUTS,
  type LeftOut,
  type QualifiedName,
  type ResolvedScope,
  type ScopePatterns
} from './types.js'

export type { PatternProblem } from './match.js'

export interface ScopeResolution {
  /** Undefined when no pattern is given: the whole database moves. */
  scope?: ResolvedScope
  problems: PatternProblem[]
  /** Moving objects that need objects which do not move and which the run cannot make. */
  unmet: UnmetDependency[]
}

type Moves = (schema: string, name: string) => boolean

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
  const { matches, problems } = await matchPatterns(client, patterns, rows[0].database)
  if (problems.length > 0) return { problems, unmet: [] }
  const scope = await selectScope(client, patterns, matches)
  const dependencies = await scopeDependencies(client, scope, options)
  scope.prerequisites = dependencies.prerequisites
  return { scope, problems: [], unmet: dependencies.unmet }
}

/** What moves and what is left out (and why), before the dependencies are read. */
async function selectScope(
  client: pg.Client,
  patterns: ScopePatterns,
  matches: PatternMatches
): Promise<ResolvedScope> {
  const tablesMode = patterns.tables.length > 0
  const userSchemas = await listUserSchemas(client)
  const { schemas, leftOut: schemasLeftOut } = selectSchemas(patterns, matches, userSchemas)
  const schemaMoves = (schema: string): boolean => !schemas || schemas.includes(schema)
  const owned = tablesMode || matches.excludedTables.size > 0 ? await ownedSequences(client) : []
  const moves = relationMoves(tablesMode ? matches.tables : undefined, schemaMoves, matches.excludedTables, owned)
  const leftOut: LeftOut[] = [...schemasLeftOut]
  let relations: QualifiedName[] | undefined
  let excludedRelations: QualifiedName[] = []
  if (tablesMode) {
    relations = namedRelations(matches.tables, owned, moves)
    leftOut.push({
      what: 'every other table, and all functions, types, domains and statistics',
      why: `${PATTERN_INPUTS.tables} given: pg_dump moves the tables it names with their indexes, constraints, triggers, rules, policies and sequences, and nothing else`
    })
  } else {
    const excluded = excludedRelationsOf(matches.excludedTables, owned, schemaMoves, moves)
    excludedRelations = excluded.relations
    leftOut.push(...excluded.leftOut)
  }
  const dataExcluded = dataExcludedRelations(matches.dataExcluded, moves)
  leftOut.push(...dataExcluded.leftOut)

  const everything = patterns.schemas.length === 0 && !tablesMode
  if (!everything)
    leftOut.push({
      what: 'extensions, large objects, the database settings and objects outside schemas (casts, languages, foreign servers, event triggers, publications)',
      why: `${PATTERN_INPUTS[tablesMode ? 'tables' : 'schemas']} given: pg_dump moves these only with the whole database`
    })
  return {
    patterns,
    everything,
    ...(schemas ? { schemas } : {}),
    ...(relations ? { relations } : {}),
    excludedRelations,
    dataExcluded: dataExcluded.relations,
    prerequisites: { schemas: [], extensions: [] },
    leftOut
  }
}

/**
 * The schemas that move, when schema patterns choose them (none when table patterns do; undefined
 * when no pattern names a schema), and each user schema left out with the reason.
 */
function selectSchemas(
  patterns: ScopePatterns,
  { included, excluded }: PatternMatches,
  userSchemas: string[]
): { schemas?: string[]; leftOut: LeftOut[] } {
  if (patterns.tables.length > 0) return { schemas: [], leftOut: [] }
  if (patterns.schemas.length === 0 && patterns.excludeSchemas.length === 0) return { leftOut: [] }
  const candidates = patterns.schemas.length > 0 ? [...included.keys()] : userSchemas
  const schemas = candidates.filter((schema) => !excluded.has(schema)).sort()
  const leftOut: LeftOut[] = []
  for (const schema of userSchemas) {
    if (schemas.includes(schema)) continue
    const pattern = excluded.get(schema)
    leftOut.push({
      what: `schema ${schema}`,
      why: pattern ? `${PATTERN_INPUTS.excludeSchemas}: ${pattern}` : `not in ${PATTERN_INPUTS.schemas}`
    })
  }
  return { schemas, leftOut }
}

/**
 * Whether a relation moves. pg_dump selects each relation (by the table patterns when given, else
 * by its schema), then dumps a table's sequences with it (getOwnedSeqs): an identity sequence
 * exactly when its table, any other owned sequence also when its table moves.
 */
function relationMoves(
  tables: Map<string, RelationMatch> | undefined,
  schemaMoves: (schema: string) => boolean,
  excludedTables: Map<string, RelationMatch>,
  owned: OwnedSequence[]
): Moves {
  const selected: Moves = (schema, name) =>
    (tables ? tables.has(key(schema, name)) : schemaMoves(schema)) && !excludedTables.has(key(schema, name))
  const finalState = new Map<string, boolean>()
  for (const sequence of owned) {
    const ownerSelected = selected(sequence.ownerSchema, sequence.ownerName)
    finalState.set(
      key(sequence.schema, sequence.name),
      sequence.identity ? ownerSelected : selected(sequence.schema, sequence.name) || ownerSelected
    )
  }
  return (schema, name) => finalState.get(key(schema, name)) ?? selected(schema, name)
}

/** With table patterns: the relations they name and the sequences those tables own, that move. */
function namedRelations(tables: Map<string, RelationMatch>, owned: OwnedSequence[], moves: Moves): QualifiedName[] {
  const candidates = new Map(
    [...tables.values()].map(({ relation }) => [key(relation.schema, relation.name), relation])
  )
  for (const sequence of owned) candidates.set(key(sequence.schema, sequence.name), { ...sequence, kind: 'S' })
  return [...candidates.values()]
    .filter((relation) => moves(relation.schema, relation.name))
    .map((relation): QualifiedName => [relation.schema, relation.name])
    .sort(compareNames)
}

/**
 * Without table patterns: the relations of moving schemas that exclude patterns keep back, with
 * the sequences their tables own (left out for the pattern that excluded the table).
 */
function excludedRelationsOf(
  excludedTables: Map<string, RelationMatch>,
  owned: OwnedSequence[],
  schemaMoves: (schema: string) => boolean,
  moves: Moves
): { relations: QualifiedName[]; leftOut: LeftOut[] } {
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
  const relations: QualifiedName[] = []
  const leftOut: LeftOut[] = []
  for (const { relation, pattern } of candidates.values()) {
    if (!schemaMoves(relation.schema) || moves(relation.schema, relation.name)) continue
    relations.push([relation.schema, relation.name])
    leftOut.push({ what: describeRelation(relation), why: `${PATTERN_INPUTS.excludeTables}: ${pattern}` })
  }
  return { relations: relations.sort(compareNames), leftOut }
}

/** Moving relations that hold data (tables, sequences, materialized views) whose data stays behind. */
function dataExcludedRelations(
  dataExcludedMatches: Map<string, RelationMatch>,
  moves: Moves
): { relations: QualifiedName[]; leftOut: LeftOut[] } {
  const relations: QualifiedName[] = []
  const leftOut: LeftOut[] = []
  for (const { relation, pattern } of dataExcludedMatches.values()) {
    if (!moves(relation.schema, relation.name) || !['r', 'S', 'p', 'm'].includes(relation.kind)) continue
    relations.push([relation.schema, relation.name])
    const data = relation.kind === 'S' ? 'value' : relation.kind === 'm' ? 'contents' : 'rows'
    leftOut.push({
      what: `the ${data} of ${describeRelation(relation)}`,
      why: `${PATTERN_INPUTS.excludeTableData}: ${pattern} (its definition moves and is compared, its ${data} not)`
    })
  }
  return { relations: relations.sort(compareNames), leftOut }
}

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
