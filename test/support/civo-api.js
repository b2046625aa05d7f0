// A stand-in for the Civo API on loopback, with the API's JSON shapes:
// - `GET /v2/databases?region=&page=` (`{page, per_page, pages, items}`), `GET /v2/databases/:id`,
//   `POST /v2/databases` (a new database is Pending, then Ready after `readyAfterPolls` looks),
//   `GET /v2/databases/versions` (`{postgresql: [{software_version, default}], …}`);
// - `GET|POST /v2/firewalls/:id/rules`, `DELETE /v2/firewalls/:id/rules/:rule_id`: the rules are kept,
//   and `onRulesChange` is awaited before the answer, so a test can make the firewall real;
// - `GET /ip`: an IP echo service answering `echoAddress`.
// Error bodies are `{code, reason}`; it checks the bearer key, and records every request.
import http from 'node:http'

/**
 * @typedef {{ username: string, password: string, port?: number }} CivoUserInfo
 * @typedef {{
 *   id: string, name: string, region: string, software: string, software_version: string,
 *   public_ipv4: string, port?: number, status: string, firewall_id?: string, size?: string,
 *   database_user_info: CivoUserInfo[]
 * }} CivoDatabase
 * @typedef {{ id: string, firewall_id: string, protocol: string, start_port: string, end_port: string,
 *   cidr: string[], direction: string, action: string, label: string | null }} CivoRule
 * @typedef {{ method: string, path: string, authorization: string | undefined, region: string | null,
 *   page: string | null, body?: any }} CivoRequest
 * @typedef {{ status: number, body: unknown }} CivoFailure
 */

/**
 * A database entry as the API lists it, with the fields a test does not care about filled in.
 * @param {Partial<CivoDatabase> & { id: string, name: string }} fields
 * @returns {CivoDatabase}
 */
export function civoDatabase(fields) {
  return {
    region: 'LON1',
    software: 'PostgreSQL',
    software_version: '17',
    public_ipv4: '203.0.113.10',
    port: 5432,
    status: 'Ready',
    size: 'g3.db.small',
    firewall_id: `fw-${fields.id}`,
    database_user_info: [{ username: 'civo', password: `pw-${fields.id}`, port: 5432 }],
    ...fields
  }
}

export const CIVO_VERSIONS = {
  postgresql: [{ software_version: '14' }, { software_version: '17', default: true }, { software_version: '16' }],
  mysql: [{ software_version: '8.0', default: true }]
}

/**
 * Starts the double on 127.0.0.1, port 0.
 * @param {{ apiKey: string, databases: CivoDatabase[], perPage?: number,
 *   readOnlyKey?: string, echoAddress?: string, readyAfterPolls?: number,
 *   created?: (request: any) => Partial<CivoDatabase>,
 *   onRulesChange?: (firewallId: string, rules: CivoRule[]) => Promise<void> }} options
 *   readOnlyKey: a key that may read databases but gets 403 on firewalls;
 *   created: the fields of a database made by POST /v2/databases (its address and login).
 */
export async function startCivoApi(options) {
  const { apiKey, databases, perPage = 2 } = options
  /** @type {CivoRequest[]} */
  const requests = []
  /** @type {CivoFailure | undefined} */
  let failure
  let list = databases
  /** @type {Map<string, CivoRule[]>} */
  const rules = new Map()
  /** @type {Map<string, number>} */
  const polls = new Map()
  let nextId = 1

  /** @param {http.ServerResponse} res @param {number} status @param {unknown} body */
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  /** @param {http.ServerResponse} res @param {string} what */
  const notFound = (res, what) => send(res, 404, { code: 'database_not_found', reason: `${what} not found` })

  /** @param {string} firewallId */
  const rulesOf = (firewallId) => rules.get(firewallId) ?? []
  /** @param {string} firewallId @param {CivoRule[]} next */
  const setRules = async (firewallId, next) => {
    rules.set(firewallId, next)
    await options.onRulesChange?.(firewallId, next)
  }

  /** @param {string} region @param {URL} url @param {http.ServerResponse} res */
  const listDatabases = (region, url, res) => {
    const inRegion = list.filter((database) => database.region.toUpperCase() === region)
    const pages = Math.max(1, Math.ceil(inRegion.length / perPage))
    const page = Math.min(Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1), pages)
    // The listing does not say which region an item is in: the query did.
    const items = inRegion.slice((page - 1) * perPage, page * perPage).map(withoutRegion)
    send(res, 200, { page, per_page: perPage, pages, items })
  }

  /** @param {string} region @param {any} body @param {http.ServerResponse} res */
  const createDatabase = (region, body, res) => {
    const id = `db-new-${nextId++}`
    const database = civoDatabase({
      id,
      name: body.name,
      region,
      size: body.size,
      software: body.software,
      software_version: body.software_version,
      status: 'Pending',
      ...options.created?.(body)
    })
    list = [...list, database]
    send(res, 200, withoutRegion(database))
  }

  /** @param {string} id @param {http.ServerResponse} res */
  const showDatabase = (id, res) => {
    const database = list.find((d) => d.id === id)
    if (!database) return notFound(res, `database ${id}`)
    const seen = (polls.get(id) ?? 0) + 1
    polls.set(id, seen)
    if (database.status === 'Pending' && seen >= (options.readyAfterPolls ?? 2)) database.status = 'Ready'
    send(res, 200, withoutRegion(database))
  }

  /** @param {string} method @param {string[]} parts @param {any} body @param {http.ServerResponse} res */
  const firewallRoute = async (method, parts, body, res) => {
    const [firewallId, , ruleId] = parts
    if (method === 'GET' && !ruleId) return send(res, 200, rulesOf(firewallId))
    if (method === 'POST' && !ruleId) {
      /** @type {CivoRule} */
      const rule = {
        id: `rule-${nextId++}`,
        firewall_id: firewallId,
        protocol: body.protocol,
        start_port: String(body.start_port),
        end_port: String(body.end_port ?? body.start_port),
        cidr: body.cidr,
        direction: body.direction,
        action: body.action,
        label: body.label ?? null
      }
      await setRules(firewallId, [...rulesOf(firewallId), rule])
      return send(res, 200, rule)
    }
    if (method === 'DELETE' && ruleId) {
      if (!rulesOf(firewallId).some((rule) => rule.id === ruleId)) return notFound(res, `rule ${ruleId}`)
      await setRules(
        firewallId,
        rulesOf(firewallId).filter((rule) => rule.id !== ruleId)
      )
      return send(res, 200, { result: 'success' })
    }
    send(res, 404, { code: 'not_found', reason: `no route for ${method} firewall ${parts.join('/')}` })
  }

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  const route = async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? ''
    const body = await readBody(req)
    const authorization = req.headers.authorization
    requests.push({
      method,
      path: url.pathname,
      authorization,
      region: url.searchParams.get('region'),
      page: url.searchParams.get('page'),
      ...(body === undefined ? {} : { body })
    })
    if (method === 'GET' && url.pathname === '/ip') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      return res.end(`${options.echoAddress ?? '127.0.0.1'}\n`)
    }
    const presented = /^bearer (.+)$/i.exec(authorization ?? '')?.[1]
    const readOnly = presented !== undefined && presented === options.readOnlyKey
    if (presented !== apiKey && !readOnly) {
      // A hostile detail on purpose: the body echoes the presented key, so tests prove that the
      // action never repeats an error body's secret.
      return send(res, 401, {
        code: 'authentication_invalid_key',
        reason: 'The API key provided is not valid',
        details: `key ${presented ?? '(none)'} was not found`
      })
    }
    if (failure) return send(res, failure.status, failure.body)
    const region = (url.searchParams.get('region') ?? body?.region ?? '').toUpperCase()
    const segments = url.pathname.split('/').filter(Boolean)
    const parts = segments.slice(2)
    if (url.pathname.startsWith('/v2/firewalls/')) {
      if (readOnly)
        return send(res, 403, { code: 'permission_denied', reason: `this key may not manage firewalls (${presented})` })
      return firewallRoute(method, parts, body, res)
    }
    if (method === 'GET' && url.pathname === '/v2/databases') return listDatabases(region, url, res)
    if (method === 'GET' && url.pathname === '/v2/databases/versions') return send(res, 200, CIVO_VERSIONS)
    if (method === 'POST' && url.pathname === '/v2/databases') return createDatabase(region, body, res)
    if (method === 'GET' && segments[1] === 'databases' && segments.length === 3) return showDatabase(segments[2], res)
    send(res, 404, { code: 'not_found', reason: `no route for ${method} ${url.pathname}` })
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((error) => send(res, 500, { code: 'double_failed', reason: String(error) }))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** The rules of a firewall as they stand. @param {string} firewallId */
    rules: rulesOf,
    /** Puts rules in place as if an earlier run or a person had added them. @param {string} firewallId @param {Partial<CivoRule>[]} next */
    async setRules(firewallId, next) {
      await setRules(
        firewallId,
        next.map((rule) => ({
          id: `rule-${nextId++}`,
          firewall_id: firewallId,
          protocol: 'tcp',
          start_port: '5432',
          end_port: '5432',
          cidr: ['127.0.0.1/32'],
          direction: 'ingress',
          action: 'allow',
          label: null,
          ...rule
        }))
      )
    },
    /** The databases as they stand (with those POST created). */
    databases: () => list,
    /** Replaces the listed databases. @param {CivoDatabase[]} next */
    setDatabases(next) {
      list = next
    },
    /** Every authenticated request fails with this until cleared. @param {CivoFailure | undefined} next */
    failWith(next) {
      failure = next
    },
    /** @returns {Promise<void>} */
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    }
  }
}

/** @param {CivoDatabase} database */
function withoutRegion(database) {
  /** @type {Partial<CivoDatabase>} */
  const item = { ...database }
  delete item.region
  return item
}

/** @param {http.IncomingMessage} req @returns {Promise<any>} */
async function readBody(req) {
  let text = ''
  for await (const chunk of req) text += chunk
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Whether a rule lets `address` reach tcp `port`, as Civo would apply it.
 * @param {CivoRule} rule @param {string} address @param {number} port
 */
export function ruleAdmits(rule, address, port) {
  return (
    rule.direction === 'ingress' &&
    (rule.action ?? 'allow') === 'allow' &&
    rule.protocol === 'tcp' &&
    Number(rule.start_port) <= port &&
    port <= Number(rule.end_port || rule.start_port) &&
    rule.cidr.some((cidr) => cidrContains(cidr, address))
  )
}

/** @param {string} cidr @param {string} address */
function cidrContains(cidr, address) {
  const [network, bits = '32'] = cidr.split('/')
  const toNumber = (/** @type {string} */ ip) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
  const size = 2 ** (32 - Number(bits))
  return Math.floor(toNumber(network) / size) === Math.floor(toNumber(address) / size)
}
