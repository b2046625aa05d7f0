// The scope as SQL conditions, by name, so the same conditions read the source, the target and a
// fingerprint's tables alike. Every condition is plain `true` for a run without filters: an
// unscoped run's queries mean what they meant before.
import { quoteLiteral } from '../pg/sql.js'
import type { QualifiedName, ResolvedScope } from './types.js'

/**
 * Whether an object moves, by the class pg_dump decides it by. Each takes an SQL expression for an
 * OID and returns an SQL condition; catalogs are qualified, so any search_path will do.
 */
export interface ScopeSql {
  /** True when nothing is filtered: every condition is `true`. */
  readonly whole: boolean
  /** The schema itself (CREATE SCHEMA), given pg_namespace.oid. */
  schema(namespaceOid: string): string
  /** An object in a schema that is not a relation (function, type, operator, statistics…), given its namespace OID. */
  inSchema(namespaceOid: string): string
  /**
   * A relation (table, view, materialized view, sequence, foreign table) given pg_class.oid, and
   * with it what belongs to it: columns, indexes, constraints, triggers, rules, policies.
   */
  relation(relationOid: string): string
  /** The rows of a table, or the value of a sequence, given pg_class.oid. */
  data(relationOid: string): string
  /** Objects in no schema: languages, casts, foreign servers, event triggers, publications, large objects. */
  readonly global: string
  /**
   * An extension, given pg_extension.oid: with everything, or when moving objects need it (the
   * run creates it on the target, see Prerequisites).
   */
  extension(extensionOid: string): string
}

export const WHOLE_DATABASE: ScopeSql = {
  whole: true,
  schema: () => 'true',
  inSchema: () => 'true',
  relation: () => 'true',
  data: () => 'true',
  global: 'true',
  extension: () => 'true'
}

const name = (value: string): string => `${quoteLiteral(value)}::pg_catalog.name`

/** `expression` is one of `names`; a hashed array test from 14 on. */
function nameIn(expression: string, names: string[]): string {
  if (names.length === 0) return 'false'
  return `${expression} OPERATOR(pg_catalog.=) ANY (ARRAY[${names.map(name).join(', ')}])`
}

/** (schema, name) is one of `relations`: an uncorrelated IN, which the server hashes. */
function pairIn(schema: string, relation: string, relations: QualifiedName[]): string {
  if (relations.length === 0) return 'false'
  return `(${schema}, ${relation}) IN (VALUES ${relations.map(([s, r]) => `(${name(s)}, ${name(r)})`).join(', ')})`
}

/** The same decisions in TypeScript, for what is already read (a fingerprint's tables and sequences). */
export function scopeMoves(scope: ResolvedScope | undefined): {
  relation: (schema: string, name: string) => boolean
  data: (schema: string, name: string) => boolean
} {
  if (!scope) return { relation: () => true, data: () => true }
  const has = (list: QualifiedName[], schema: string, name: string): boolean =>
    list.some(([s, n]) => s === schema && n === name)
  const relation = (schema: string, name: string): boolean =>
    scope.relations
      ? has(scope.relations, schema, name)
      : (!scope.schemas || scope.schemas.includes(schema)) && !has(scope.excludedRelations, schema, name)
  return { relation, data: (schema, name) => relation(schema, name) && !has(scope.dataExcluded, schema, name) }
}

/** The conditions of a resolved scope; the whole database when there is none. */
export function scopeSql(scope: ResolvedScope | undefined): ScopeSql {
  if (!scope) return WHOLE_DATABASE
  const schemaMoves = (nspname: string): string => (scope.schemas ? nameIn(nspname, scope.schemas) : 'true')
  const relationMoves = (nspname: string, relname: string): string =>
    scope.relations
      ? pairIn(nspname, relname, scope.relations)
      : scope.excludedRelations.length === 0
        ? schemaMoves(nspname)
        : `(${schemaMoves(nspname)} AND NOT ${pairIn(nspname, relname, scope.excludedRelations)})`
  const dataMoves = (nspname: string, relname: string): string =>
    scope.dataExcluded.length === 0
      ? relationMoves(nspname, relname)
      : `(${relationMoves(nspname, relname)} AND NOT ${pairIn(nspname, relname, scope.dataExcluded)})`
  const byNamespace = (oid: string, condition: (nspname: string) => string): string => {
    const test = condition('sn.nspname')
    if (test === 'true') return 'true'
    return `EXISTS (SELECT FROM pg_catalog.pg_namespace sn WHERE sn.oid OPERATOR(pg_catalog.=) ${oid} AND ${test})`
  }
  const byRelation = (oid: string, condition: (nspname: string, relname: string) => string): string => {
    const test = condition('sn.nspname', 'sc.relname')
    if (test === 'true') return 'true'
    return `EXISTS (SELECT FROM pg_catalog.pg_class sc JOIN pg_catalog.pg_namespace sn ON sn.oid OPERATOR(pg_catalog.=) sc.relnamespace
      WHERE sc.oid OPERATOR(pg_catalog.=) ${oid} AND ${test})`
  }
  const inSchema = (oid: string): string => (scope.relations ? 'false' : byNamespace(oid, schemaMoves))
  return {
    whole: false,
    schema: inSchema,
    inSchema,
    relation: (oid) => byRelation(oid, relationMoves),
    data: (oid) => byRelation(oid, dataMoves),
    global: scope.everything ? 'true' : 'false',
    extension: (oid) =>
      scope.everything
        ? 'true'
        : scope.prerequisites.extensions.length === 0
          ? 'false'
          : `EXISTS (SELECT FROM pg_catalog.pg_extension se WHERE se.oid OPERATOR(pg_catalog.=) ${oid} AND ${nameIn(
              'se.extname',
              scope.prerequisites.extensions.map((e) => e.name)
            )})`
  }
}
