// A stand-in for the Civo API's database listing, on loopback: `GET /v2/databases?region=&page=`
// answers with the API's JSON shapes (`{page, per_page, pages, items}`, error bodies `{code, reason}`),
// checks the bearer key, and records every request so tests can see what the action sent.
import http from 'node:http'

/**
 * @typedef {{ username: string, password: string, port?: number }} CivoUserInfo
 * @typedef {{
 *   id: string, name: string, region: string, software: string, software_version: string,
 *   public_ipv4: string, port?: number, status: string, firewall_id?: string, size?: string,
 *   database_user_info: CivoUserInfo[]
 * }} CivoDatabase
 * @typedef {{ method: string, path: string, authorization: string | undefined, region: string | null,
 *   page: string | null }} CivoRequest
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

/**
 * Starts the double on 127.0.0.1, port 0.
 * @param {{ apiKey: string, databases: CivoDatabase[], perPage?: number }} options
 */
export async function startCivoApi({ apiKey, databases, perPage = 2 }) {
  /** @type {CivoRequest[]} */
  const requests = []
  /** @type {CivoFailure | undefined} */
  let failure
  let list = databases

  /** @param {http.ServerResponse} res @param {number} status @param {unknown} body */
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const authorization = req.headers.authorization
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      authorization,
      region: url.searchParams.get('region'),
      page: url.searchParams.get('page')
    })
    if (req.method !== 'GET' || url.pathname !== '/v2/databases') {
      return send(res, 404, { code: 'not_found', reason: `no route for ${req.method} ${url.pathname}` })
    }
    const presented = /^bearer (.+)$/i.exec(authorization ?? '')?.[1]
    if (presented !== apiKey) {
      // A hostile detail on purpose: the body echoes the presented key, so tests prove that the
      // action never repeats an error body's secret.
      return send(res, 401, {
        code: 'authentication_invalid_key',
        reason: 'The API key provided is not valid',
        details: `key ${presented ?? '(none)'} was not found`
      })
    }
    if (failure) return send(res, failure.status, failure.body)
    const region = (url.searchParams.get('region') ?? '').toUpperCase()
    const inRegion = list.filter((database) => database.region.toUpperCase() === region)
    const pages = Math.max(1, Math.ceil(inRegion.length / perPage))
    const page = Math.min(Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1), pages)
    // The listing does not say which region an item is in: the query did.
    const items = inRegion.slice((page - 1) * perPage, page * perPage).map((database) => {
      /** @type {Partial<CivoDatabase>} */
      const item = { ...database }
      delete item.region
      return item
    })
    send(res, 200, { page, per_page: perPage, pages, items })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
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
