// The plan's part of the filters: what they select on the source, what stops them before anything
// is written (a pattern pg_dump would refuse or that matches nothing, a foreign key or another
// dependency on what does not move), and what the run makes on the target for them.
import type pg from 'pg'
import { resolveScope } from '../scope/resolve.js'
import { PATTERN_INPUTS, type ResolvedScope, type ScopePatterns } from '../scope/types.js'
import type { ObjectAddress, UnmetDependency } from '../scope/dependencies.js'
import { count, list } from './checks/catalog.js'
import type { Finding } from './findings.js'

export async function planScope(
  sourceDb: pg.Client,
  patterns: ScopePatterns | undefined,
  targetDb: pg.Client | undefined,
  purpose: 'copy' | 'compare'
): Promise<{ scope?: ResolvedScope; findings: Finding[] }> {
  const resolution = await resolveScope(sourceDb, patterns, { readRows: purpose === 'copy' })
  const findings: Finding[] = resolution.problems.map((problem) => ({
    id: 'scope-pattern',
    severity: 'blocker',
    message: problem.message,
    objects: [problem.pattern],
    hint: `correct or remove it in ${PATTERN_INPUTS[problem.list]} (pg_dump's patterns: * and ? as wildcards, "double quotes" around names with capitals or dots, schema.table); nothing was written`
  }))
  const { scope } = resolution
  if (!scope || purpose === 'compare') return { scope, findings }
  const unmet: UnmetDependency[] = []
  for (const dependency of resolution.unmet)
    if (!dependency.needed || !(targetDb && (await targetHas(targetDb, dependency.needed)))) unmet.push(dependency)
  findings.push(...unmetFindings(unmet))
  const { schemas, extensions } = scope.prerequisites
  const made = [
    ...schemas.map((s) => `schema ${s}`),
    ...extensions.map((e) => `extension ${e.name} (schema ${e.schema})`)
  ]
  if (made.length > 0)
    findings.push({
      id: 'scope-prerequisites',
      severity: 'warning',
      message: `the run creates ${list(made)} on the target before the restore: the objects that move need ${made.length === 1 ? 'it' : 'them'}, and a dump with these filters does not create ${made.length === 1 ? 'it' : 'them'}`,
      objects: made,
      hint: 'nothing to do: pg_dump creates schemas only when they are selected, and extensions only with the whole database'
    })
  return { scope, findings }
}

/** Whether the target database already has an object the source names this way. */
async function targetHas(target: pg.Client, address: ObjectAddress): Promise<boolean> {
  return target
    .query('SELECT 1 FROM pg_catalog.pg_get_object_address($1, $2, $3)', [address.type, address.names, address.args])
    .then(
      () => true,
      () => false
    )
}

const KINDS: Record<UnmetDependency['kind'], { id: string; what: (n: number) => string; hint: string }> = {
  'foreign-key': {
    id: 'scope-foreign-key',
    what: (n) =>
      `${count(n, 'foreign key')} of moving tables ${n === 1 ? 'references a table that does' : 'reference tables that do'} not move`,
    hint: 'add the referenced tables to what moves, or leave the referencing tables out too: pg_dump would dump the foreign key and the restore would fail on it'
  },
  'foreign-key-rows': {
    id: 'scope-foreign-key-rows',
    what: (n) => `${count(n, 'foreign key')} would check rows against a table whose rows do not move`,
    hint: 'move the referenced rows too (take the table out of exclude-table-data), or leave the referencing rows out as well'
  },
  dependency: {
    id: 'scope-dependency',
    what: (n) =>
      `${count(n, 'moving object needs', 'moving objects need')} objects that do not move and that the target database does not have`,
    hint: 'add what they need to what moves, leave them out as well, or create what they need in the target database first'
  },
  'extension-in-moving-schema': {
    id: 'scope-extension-schema',
    what: (n) =>
      `${count(n, 'moving object uses', 'moving objects use')} an extension installed in a schema that moves`,
    hint: 'on the source, move the extension to a schema that does not move (ALTER EXTENSION … SET SCHEMA public, if it is relocatable), or migrate the whole database'
  }
}

function unmetFindings(unmet: UnmetDependency[]): Finding[] {
  return (Object.keys(KINDS) as UnmetDependency['kind'][]).flatMap((kind) => {
    const messages = unmet.filter((u) => u.kind === kind).map((u) => u.message)
    if (messages.length === 0) return []
    const { id, what, hint } = KINDS[kind]
    return [
      {
        id,
        severity: 'blocker' as const,
        message: `${what(messages.length)}: ${list(messages, 3)}`,
        objects: messages,
        hint
      }
    ]
  })
}
