// From the plan's words back to catalog objects, and from catalog objects to DROP statements.
// The plan names objects as text (`function public.f(integer) (internal)`); the ground truth works
// with catalog addresses (classid, objid, objsubid), which are also what pg_dump's TOC carries. A copy
// made with CREATE DATABASE … TEMPLATE keeps every OID, so an address read on the source is valid on
// the copy, and in the TOC of a dump of either.

/** Findings whose objects are role names, and extension names, not qualified object descriptions. */
const ROLE_FINDINGS = new Set(['missing-roles', 'roles-not-creatable'])
const EXTENSION_FINDINGS = new Set(['extension-unavailable', 'extension-needs-superuser', 'extension-schema-differs'])

/**
 * Every user object under each of the descriptions the plan's probes write (src/plan/checks), with
 * its address. Kept to catalog columns every supported source major has.
 */
const DESCRIPTIONS = `
  WITH user_ns AS (SELECT oid, nspname FROM pg_namespace
                    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%')
  SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS key,
         'pg_proc'::regclass::oid AS classid, p.oid AS objid, 0 AS objsubid
    FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
  UNION ALL
  SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
           WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'table' END, n.nspname, c.relname),
         'pg_class'::regclass::oid, c.oid, 0
    FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('%I.%I', n.nspname, c.relname), 'pg_class'::regclass::oid, c.oid, 0
    FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('%s%I.%I.%I', x.prefix, n.nspname, c.relname, a.attname), 'pg_class'::regclass::oid, c.oid, a.attnum
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN user_ns n ON n.oid = c.relnamespace
    CROSS JOIN (VALUES (''), ('generated column '), ('default ')) AS x(prefix)
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('%s %I.%I(%s)', x.prefix, n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         'pg_proc'::regclass::oid, p.oid, 0
    FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
    CROSS JOIN (VALUES ('procedure'), ('LEAKPROOF function'), ('aggregate')) AS x(prefix)
  UNION ALL
  SELECT format('aggregate %I.%I(%s) with a transition state of type internal', n.nspname, p.proname,
                pg_get_function_identity_arguments(p.oid)), 'pg_proc'::regclass::oid, p.oid, 0
    FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
  UNION ALL
  SELECT format('%s %I.%I', x.kind, n.nspname, t.typname), 'pg_type'::regclass::oid, t.oid, 0
    FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace CROSS JOIN (VALUES ('base type'), ('shell type')) AS x(kind)
  UNION ALL
  SELECT format('transform for %s language %I', format_type(tr.trftype, NULL), l.lanname), 'pg_transform'::regclass::oid, tr.oid, 0
    FROM pg_transform tr JOIN pg_language l ON l.oid = tr.trflang
  UNION ALL
  SELECT format('schema %I', n.nspname), 'pg_namespace'::regclass::oid, n.oid, 0 FROM user_ns n
  UNION ALL
  SELECT format('type %I.%I', n.nspname, t.typname), 'pg_type'::regclass::oid, t.oid, 0
    FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
  UNION ALL
  SELECT format('language %I', l.lanname), 'pg_language'::regclass::oid, l.oid, 0 FROM pg_language l
  UNION ALL
  SELECT format('foreign-data wrapper %I', w.fdwname), 'pg_foreign_data_wrapper'::regclass::oid, w.oid, 0 FROM pg_foreign_data_wrapper w
  UNION ALL
  SELECT format('server %I', s.srvname), 'pg_foreign_server'::regclass::oid, s.oid, 0 FROM pg_foreign_server s
  UNION ALL
  SELECT format('access method %I', a.amname), 'pg_am'::regclass::oid, a.oid, 0 FROM pg_am a
  UNION ALL
  SELECT format('operator class %I.%I%s', n.nspname, o.opcname, x.suffix), 'pg_opclass'::regclass::oid, o.oid, 0
    FROM pg_opclass o JOIN user_ns n ON n.oid = o.opcnamespace JOIN pg_am a ON a.oid = o.opcmethod
    CROSS JOIN LATERAL (VALUES (''), (format(' USING %I', a.amname))) AS x(suffix)
  UNION ALL
  SELECT format('operator family %I.%I%s', n.nspname, f.opfname, x.suffix), 'pg_opfamily'::regclass::oid, f.oid, 0
    FROM pg_opfamily f JOIN user_ns n ON n.oid = f.opfnamespace JOIN pg_am a ON a.oid = f.opfmethod
    CROSS JOIN LATERAL (VALUES (''), (format(' USING %I', a.amname))) AS x(suffix)
  UNION ALL
  SELECT format('text search parser %I.%I', n.nspname, p.prsname), 'pg_ts_parser'::regclass::oid, p.oid, 0
    FROM pg_ts_parser p JOIN user_ns n ON n.oid = p.prsnamespace
  UNION ALL
  SELECT format('text search template %I.%I', n.nspname, t.tmplname), 'pg_ts_template'::regclass::oid, t.oid, 0
    FROM pg_ts_template t JOIN user_ns n ON n.oid = t.tmplnamespace
  UNION ALL
  SELECT format('text search dictionary %I.%I', n.nspname, d.dictname), 'pg_ts_dict'::regclass::oid, d.oid, 0
    FROM pg_ts_dict d JOIN user_ns n ON n.oid = d.dictnamespace
  UNION ALL
  SELECT format('text search configuration %I.%I', n.nspname, c.cfgname), 'pg_ts_config'::regclass::oid, c.oid, 0
    FROM pg_ts_config c JOIN user_ns n ON n.oid = c.cfgnamespace
  UNION ALL
  SELECT format('cast (%s AS %s)%s', format_type(c.castsource, NULL), format_type(c.casttarget, NULL), x.suffix),
         'pg_cast'::regclass::oid, c.oid, 0
    FROM pg_cast c CROSS JOIN (VALUES (''), (' WITHOUT FUNCTION'), (' between types the target login will not own')) AS x(suffix)
   WHERE c.oid >= 16384
  UNION ALL
  SELECT format('collation %I.%I', n.nspname, o.collname), 'pg_collation'::regclass::oid, o.oid, 0
    FROM pg_collation o JOIN user_ns n ON n.oid = o.collnamespace
  UNION ALL
  SELECT format('conversion %I.%I', n.nspname, o.conname), 'pg_conversion'::regclass::oid, o.oid, 0
    FROM pg_conversion o JOIN user_ns n ON n.oid = o.connamespace
  UNION ALL
  SELECT format('operator %I.%s', n.nspname, o.oprname), 'pg_operator'::regclass::oid, o.oid, 0
    FROM pg_operator o JOIN user_ns n ON n.oid = o.oprnamespace
  UNION ALL
  SELECT format('statistics %I.%I', n.nspname, o.stxname), 'pg_statistic_ext'::regclass::oid, o.oid, 0
    FROM pg_statistic_ext o JOIN user_ns n ON n.oid = o.stxnamespace
  UNION ALL
  SELECT format('constraint %I on %I.%s', co.conname, n.nspname, COALESCE(quote_ident(t.relname), format_type(co.contypid, NULL))),
         'pg_constraint'::regclass::oid, co.oid, 0
    FROM pg_constraint co JOIN user_ns n ON n.oid = co.connamespace LEFT JOIN pg_class t ON t.oid = co.conrelid
  UNION ALL
  SELECT format('trigger %I on %I.%I', g.tgname, n.nspname, c.relname), 'pg_trigger'::regclass::oid, g.oid, 0
    FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN user_ns n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('policy %I on %I.%I', p.polname, n.nspname, c.relname), 'pg_policy'::regclass::oid, p.oid, 0
    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN user_ns n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('rule %I on %I.%I', r.rulename, n.nspname, c.relname), 'pg_rewrite'::regclass::oid, r.oid, 0
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN user_ns n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('%s%s', x.prefix, CASE WHEN x.prefix = '' THEN e.extname ELSE quote_ident(e.extname) END),
         'pg_extension'::regclass::oid, e.oid, 0
    FROM pg_extension e CROSS JOIN (VALUES (''), ('extension ')) AS x(prefix)
  UNION ALL
  SELECT format('event trigger %I', e.evtname), 'pg_event_trigger'::regclass::oid, e.oid, 0 FROM pg_event_trigger e
  UNION ALL
  SELECT format('publication %I', p.pubname), 'pg_publication'::regclass::oid, p.oid, 0 FROM pg_publication p`

/**
 * @typedef {{ classid: number, objid: number, objsubid: number }} Address
 * @typedef {{ finding: string, object: string, kind: 'object' | 'role' | 'unresolved', address?: Address,
 *   role?: string }} ResolvedObject
 */

/** The text without a trailing " (…)" note (language, owner, parent…), when it has one. */
function withoutNote(text) {
  if (!text.endsWith(')')) return undefined
  let depth = 0
  for (let i = text.length - 1; i >= 0; i--) {
    if (text[i] === ')') depth++
    else if (text[i] === '(' && --depth === 0) return i > 0 && text[i - 1] === ' ' ? text.slice(0, i - 1) : undefined
  }
  return undefined
}

/**
 * The catalog address of every object the findings name.
 * @param {import('pg').Client} client the source, or a copy of it
 * @param {{ id: string, objects: string[] }[]} findings
 * @returns {Promise<ResolvedObject[]>}
 */
export async function resolveFindings(client, findings) {
  // The action's sessions run on an empty search_path, where names in argument lists and casts come out
  // qualified (public.int42): describe the objects the same way.
  await client.query('BEGIN')
  let rows
  try {
    await client.query("SELECT pg_catalog.set_config('search_path', '', true)")
    rows = (await client.query(DESCRIPTIONS)).rows
  } finally {
    await client.query('COMMIT')
  }
  /** @type {Map<string, Address>} */
  const byKey = new Map()
  for (const row of rows) {
    if (!byKey.has(row.key))
      byKey.set(row.key, { classid: Number(row.classid), objid: Number(row.objid), objsubid: Number(row.objsubid) })
  }
  return findings.flatMap((finding) =>
    finding.objects.map((object) => {
      if (ROLE_FINDINGS.has(finding.id)) return { finding: finding.id, object, kind: 'role', role: object }
      // Extension findings name the extension bare, the same text as a row of DESCRIPTIONS keyed by extname.
      const key = EXTENSION_FINDINGS.has(finding.id) ? object.split(' (')[0] : object
      for (let text = key; text !== undefined; text = withoutNote(text)) {
        const address = byKey.get(text)
        if (address) return { finding: finding.id, object, kind: 'object', address }
      }
      return { finding: finding.id, object, kind: 'unresolved' }
    })
  )
}

/**
 * What DROP removes an object: an object another one owns internally (a range type's constructor
 * functions, a table's row type…) cannot be dropped alone, so the owner goes instead.
 * @param {import('pg').Client} client @param {Address} address
 * @returns {Promise<{ address: Address, via?: string }>}
 */
async function droppable(client, address) {
  let current = address
  const chain = []
  for (let depth = 0; depth < 5; depth++) {
    const { rows } = await client.query(
      `SELECT refclassid, refobjid, refobjsubid, pg_describe_object(refclassid, refobjid, refobjsubid) AS owner
         FROM pg_depend WHERE classid = $1 AND objid = $2 AND objsubid = $3 AND deptype = 'i' LIMIT 1`,
      [current.classid, current.objid, current.objsubid]
    )
    if (rows.length === 0) break
    chain.push(rows[0].owner)
    current = {
      classid: Number(rows[0].refclassid),
      objid: Number(rows[0].refobjid),
      objsubid: Number(rows[0].refobjsubid)
    }
  }
  return chain.length ? { address: current, via: chain.join(' → ') } : { address: current }
}

/**
 * The statement that drops an object on the copy, or undefined when it no longer exists.
 * @param {import('pg').Client} client @param {Address} address
 * @returns {Promise<{ sql: string, description: string, via?: string } | undefined>}
 */
export async function dropStatement(client, address) {
  const target = await droppable(client, address)
  const { classid, objid, objsubid } = target.address
  const { rows } = await client.query(
    `SELECT o.type, o.identity, pg_describe_object($1, $2, $3) AS description,
            (SELECT (pg_identify_object($1, $2, 0)).identity) AS parent,
            (SELECT attname FROM pg_attribute WHERE attrelid = $2 AND attnum = $3 AND $1 = 'pg_class'::regclass::oid) AS column_name,
            (SELECT format('%s|%s|%s', c.conname, COALESCE(c.conrelid::regclass::text, ''), COALESCE(c.contypid::regtype::text, ''))
               FROM pg_constraint c WHERE c.oid = $2 AND $1 = 'pg_constraint'::regclass::oid) AS con,
            (SELECT t.typtype FROM pg_type t WHERE t.oid = $2 AND $1 = 'pg_type'::regclass::oid) AS typtype
       FROM pg_identify_object($1, $2, $3) o`,
    [classid, objid, objsubid]
  )
  const row = rows[0]
  if (!row || row.identity === null || row.description === null) return undefined
  const on = (name, table) => `${quote(name)} ON ${table}`
  /** @type {string} */
  let sql
  switch (row.type) {
    case 'table column':
      sql = `ALTER TABLE ${row.parent} DROP COLUMN ${quote(row.column_name)} CASCADE`
      break
    case 'table constraint':
    case 'domain constraint': {
      const [name, table, domain] = row.con.split('|')
      sql = table
        ? `ALTER TABLE ${table} DROP CONSTRAINT ${quote(name)} CASCADE`
        : `ALTER DOMAIN ${domain} DROP CONSTRAINT ${quote(name)} CASCADE`
      break
    }
    case 'trigger':
    case 'policy':
    case 'rule': {
      const { rows: parts } = await client.query(
        row.type === 'trigger'
          ? 'SELECT tgname AS name, tgrelid::regclass::text AS tab FROM pg_trigger WHERE oid = $1'
          : row.type === 'policy'
            ? 'SELECT polname AS name, polrelid::regclass::text AS tab FROM pg_policy WHERE oid = $1'
            : 'SELECT rulename AS name, ev_class::regclass::text AS tab FROM pg_rewrite WHERE oid = $1',
        [objid]
      )
      sql = `DROP ${row.type.toUpperCase()} ${on(parts[0].name, parts[0].tab)} CASCADE`
      break
    }
    case 'default value': {
      const { rows: parts } = await client.query(
        `SELECT d.adrelid::regclass::text AS tab, a.attname FROM pg_attrdef d
           JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.oid = $1`,
        [objid]
      )
      sql = `ALTER TABLE ${parts[0].tab} ALTER COLUMN ${quote(parts[0].attname)} DROP DEFAULT`
      break
    }
    case 'type':
      sql = `DROP ${row.typtype === 'd' ? 'DOMAIN' : 'TYPE'} ${row.identity} CASCADE`
      break
    case 'foreign-data wrapper':
      sql = `DROP FOREIGN DATA WRAPPER ${row.identity} CASCADE`
      break
    case 'statistics object':
      sql = `DROP STATISTICS ${row.identity}`
      break
    case 'aggregate':
      // pg_identify_object writes an aggregate of no arguments as name(); DROP AGGREGATE wants name(*).
      sql = `DROP AGGREGATE ${row.identity.replace(/\(\)$/, '(*)')} CASCADE`
      break
    case 'transform': {
      const [, type, language] = /^for (.+?) (?:on )?language (.+)$/.exec(row.identity) ?? []
      sql = `DROP TRANSFORM FOR ${type} LANGUAGE ${language} CASCADE`
      break
    }
    case 'user mapping': {
      const [, user, server] = /^(.+) on server (.+)$/.exec(row.identity) ?? []
      sql = `DROP USER MAPPING FOR ${user} SERVER ${server}`
      break
    }
    case 'publication relation': {
      const [, table, publication] = /^(.+) in publication (.+)$/.exec(row.identity) ?? []
      sql = `ALTER PUBLICATION ${publication} DROP TABLE ${table}`
      break
    }
    case 'large object':
      sql = `SELECT lo_unlink(${objid})`
      break
    default:
      sql = `DROP ${row.type.toUpperCase()} ${row.identity} CASCADE`
  }
  return { sql, description: row.description, ...(target.via ? { via: target.via } : {}) }
}

/** @param {string} name */
function quote(name) {
  return '"' + name.replaceAll('"', '""') + '"'
}

/**
 * Drops each object on the copy, one statement at a time, and says what happened to each.
 * @param {import('pg').Client} client @param {Address[]} addresses
 */
export async function dropObjects(client, addresses) {
  const results = []
  for (const address of addresses) {
    const statement = await dropStatement(client, address)
    if (!statement) {
      results.push({ address, status: 'gone' })
      continue
    }
    try {
      await client.query(statement.sql)
      results.push({ address, status: 'dropped', ...statement })
    } catch (error) {
      const message = /** @type {Error} */ (error).message
      // A column that cannot go alone (inherited, or the last one): its table goes instead.
      const table = address.objsubid !== 0 ? await dropStatement(client, { ...address, objsubid: 0 }) : undefined
      if (!table) {
        results.push({ address, status: 'failed', ...statement, error: message })
        continue
      }
      try {
        await client.query(table.sql)
        results.push({ address, status: 'dropped', ...table, via: `${statement.sql} failed (${message})` })
      } catch (tableError) {
        results.push({ address, status: 'failed', ...table, error: /** @type {Error} */ (tableError).message })
      }
    }
  }
  return results
}
