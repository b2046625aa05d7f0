// A stand-in for GitHub's artifact backend: the Azurite blob emulator for the bytes, and a node:http
// double of the results service (Twirp JSON, as @actions/artifact 6 calls it) plus the two REST
// endpoints the library uses to read another run's artifacts. Plain JS so jest's global setup and
// scripts can load it without a TypeScript step.
import { spawn } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters
} from '@azure/storage-blob'
import unzip from 'unzip-stream'

// Azurite's fixed development account, documented by Microsoft; not a secret.
const ACCOUNT = 'devstoreaccount1'
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
const CONTAINER = 'actions-results'
const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.ArtifactService/'
// What @actions/artifact 6.2 sends in CreateArtifactRequest.version.
const ARTIFACT_VERSION = 7
const AZURITE_MAIN = fileURLToPath(new URL('../../node_modules/azurite/dist/src/blob/main.js', import.meta.url))

/**
 * @typedef {object} StoredArtifact
 * @property {number} id database id, returned by FinalizeArtifact as artifact_id
 * @property {string} name
 * @property {string} runBackendId
 * @property {string} jobRunBackendId
 * @property {string} blobName path of the zip inside the container
 * @property {string | undefined} mimeType
 * @property {Date | undefined} expiresAt
 * @property {Date} createdAt
 * @property {boolean} finalized
 * @property {number} size bytes, set by FinalizeArtifact
 * @property {string | undefined} digest "sha256:<hex>", set by FinalizeArtifact
 */

/**
 * @typedef {object} ServiceCall
 * @property {string} method Twirp method, or "GET <path>" for the REST endpoints
 * @property {unknown} body parsed request body (Twirp only)
 * @property {number} status HTTP status answered
 * @property {unknown} response body answered
 */

/**
 * @typedef {object} ArtifactServices
 * @property {Record<string, string>} env what the action's process needs to talk to these services
 * @property {string} resultsUrl origin of the results-service double (also the REST API base)
 * @property {string} blobUrl Azurite account URL (…/devstoreaccount1)
 * @property {StoredArtifact[]} artifacts every artifact created, finalized or not
 * @property {ServiceCall[]} calls every request answered, in order
 * @property {(n: number) => void} failNext the next n Twirp calls answer HTTP 500
 * @property {(name: string) => Promise<Buffer>} readBlob zip bytes of the newest artifact with this name
 * @property {() => Promise<void>} close stops both services
 */

/**
 * @param {object} [opts]
 * @param {string} [opts.repository] owner/name the run belongs to (default octo-org/app)
 * @param {number} [opts.runId] GITHUB_RUN_ID of the simulated run (default 4242)
 * @returns {Promise<ArtifactServices>}
 */
export async function startArtifactServices(opts = {}) {
  const repository = opts.repository ?? 'octo-org/app'
  const runId = opts.runId ?? 4242
  const runBackendId = randomUUID()
  const jobRunBackendId = randomUUID()

  const azurite = await startAzurite()
  /** @type {http.Server | undefined} */
  let server
  try {
    const blobUrl = `${azurite.url}/${ACCOUNT}`
    const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY)
    const container = new BlobServiceClient(blobUrl, credential).getContainerClient(CONTAINER)
    await container.create()

    /** @type {StoredArtifact[]} */
    const artifacts = []
    /** @type {ServiceCall[]} */
    const calls = []
    let failures = 0
    let nextId = 1000

    /** @param {string} blobName @param {string} permissions @param {number} minutes */
    const signedUrl = (blobName, permissions, minutes) => {
      const sas = generateBlobSASQueryParameters(
        {
          containerName: CONTAINER,
          blobName,
          permissions: BlobSASPermissions.parse(permissions),
          startsOn: new Date(Date.now() - 60_000),
          expiresOn: new Date(Date.now() + minutes * 60_000),
          protocol: SASProtocol.HttpsAndHttp
        },
        credential
      )
      return `${container.getBlobClient(blobName).url}?${sas.toString()}`
    }
    /** @param {StoredArtifact} a */
    const visible = (a) => a.finalized && (!a.expiresAt || a.expiresAt > new Date())

    /**
     * Each returns [status, body]; a TwirpError thrown inside becomes the Twirp error JSON.
     * @type {Record<string, (body: Record<string, unknown>, ids: BackendIds) => Promise<[number, unknown]>>}
     */
    const methods = {
      async CreateArtifact(body, ids) {
        const { run, job, name } = requireIds(body, ids, { name: true, sameJob: true })
        if (body.version !== ARTIFACT_VERSION) {
          throw new TwirpError(400, 'invalid_argument', `unsupported artifact version ${String(body.version)}`)
        }
        const expiresAt = optionalTimestamp(body.expires_at, 'expires_at')
        if (expiresAt && expiresAt <= new Date()) {
          throw new TwirpError(400, 'invalid_argument', 'expires_at is in the past')
        }
        if (body.mime_type !== undefined && typeof body.mime_type !== 'string') {
          throw new TwirpError(400, 'invalid_argument', 'mime_type must be a string')
        }
        if (artifacts.some((a) => a.runBackendId === run && a.name === name && visible(a))) {
          throw new TwirpError(
            409,
            'already_exists',
            `an artifact with this name already exists on the workflow run: ${name}`
          )
        }
        const artifact = {
          id: nextId++,
          name,
          runBackendId: run,
          jobRunBackendId: job,
          blobName: `${run}/${job}/${name}.zip`,
          mimeType: /** @type {string | undefined} */ (body.mime_type),
          expiresAt,
          createdAt: new Date(),
          finalized: false,
          size: 0,
          digest: undefined
        }
        artifacts.push(artifact)
        return [200, { ok: true, signed_upload_url: signedUrl(artifact.blobName, 'cw', 60) }]
      },

      async FinalizeArtifact(body, ids) {
        const { run, job, name } = requireIds(body, ids, { name: true, sameJob: true })
        if (typeof body.size !== 'string' || !/^\d+$/.test(body.size)) {
          throw new TwirpError(400, 'invalid_argument', 'size must be an int64 string')
        }
        const hash = body.hash
        if (hash !== undefined && (typeof hash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(hash))) {
          throw new TwirpError(400, 'invalid_argument', 'hash must be "sha256:<hex>"')
        }
        const artifact = artifacts.findLast(
          (a) => a.runBackendId === run && a.jobRunBackendId === job && a.name === name && !a.finalized
        )
        if (!artifact) throw new TwirpError(404, 'not_found', `no pending artifact named ${name}`)
        const blob = container.getBlobClient(artifact.blobName)
        if (!(await blob.exists())) throw new TwirpError(412, 'failed_precondition', 'nothing was uploaded')
        const bytes = await blob.downloadToBuffer()
        // Stricter than strictly needed, so a test catches a library that reports the wrong size or hash.
        if (bytes.length !== Number(body.size)) {
          throw new TwirpError(400, 'invalid_argument', `size ${body.size} does not match the upload (${bytes.length})`)
        }
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
        if (hash !== undefined && hash !== digest) {
          throw new TwirpError(400, 'invalid_argument', `hash ${hash} does not match the upload (${digest})`)
        }
        Object.assign(artifact, { finalized: true, size: bytes.length, digest })
        return [200, { ok: true, artifact_id: String(artifact.id) }]
      },

      async ListArtifacts(body, ids) {
        const { run } = requireIds(body, ids, { name: false, sameJob: false })
        const nameFilter = body.name_filter
        const idFilter = body.id_filter
        if (nameFilter !== undefined && typeof nameFilter !== 'string') {
          throw new TwirpError(400, 'invalid_argument', 'name_filter must be a string')
        }
        if (idFilter !== undefined && (typeof idFilter !== 'string' || !/^\d+$/.test(idFilter))) {
          throw new TwirpError(400, 'invalid_argument', 'id_filter must be an int64 string')
        }
        const found = artifacts.filter(
          (a) =>
            a.runBackendId === run &&
            visible(a) &&
            (nameFilter === undefined || a.name === nameFilter) &&
            (idFilter === undefined || String(a.id) === idFilter)
        )
        return [
          200,
          {
            artifacts: found.map((a) => ({
              workflow_run_backend_id: a.runBackendId,
              workflow_job_run_backend_id: a.jobRunBackendId,
              database_id: String(a.id),
              name: a.name,
              size: String(a.size),
              created_at: a.createdAt.toISOString(),
              ...(a.digest ? { digest: a.digest } : {})
            }))
          }
        ]
      },

      async GetSignedArtifactURL(body, ids) {
        const { run, job, name } = requireIds(body, ids, { name: true, sameJob: false })
        const artifact = artifacts.findLast(
          (a) => a.runBackendId === run && a.jobRunBackendId === job && a.name === name && visible(a)
        )
        if (!artifact) throw new TwirpError(404, 'not_found', `artifact not found: ${name}`)
        return [200, { signed_url: signedUrl(artifact.blobName, 'r', 10) }]
      }
    }

    /** @param {http.IncomingMessage} req @param {URL} url @returns {Promise<[number, unknown, Record<string, string>?]>} */
    const answerRest = async (req, url) => {
      const auth = req.headers.authorization ?? ''
      if (!/^(token|bearer) \S+/i.test(auth)) return [401, { message: 'Requires authentication' }]
      const list = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)\/artifacts$/)
      if (list) {
        if (list[1] !== repository || Number(list[2]) !== runId) return [404, { message: 'Not Found' }]
        const name = url.searchParams.get('name')
        const found = artifacts.filter(
          (a) => a.runBackendId === runBackendId && visible(a) && (!name || a.name === name)
        )
        return [
          200,
          {
            total_count: found.length,
            artifacts: found.map((a) => ({
              id: a.id,
              name: a.name,
              size_in_bytes: a.size,
              expired: false,
              digest: a.digest,
              created_at: a.createdAt.toISOString(),
              expires_at: a.expiresAt?.toISOString() ?? null,
              workflow_run: { id: runId }
            }))
          }
        ]
      }
      const zip = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/actions\/artifacts\/(\d+)\/zip$/)
      if (zip) {
        const artifact = artifacts.find((a) => a.id === Number(zip[2]) && visible(a))
        if (zip[1] !== repository || !artifact) return [404, { message: 'Not Found' }]
        return [302, '', { location: signedUrl(artifact.blobName, 'r', 1) }]
      }
      return [404, { message: 'Not Found' }]
    }

    /** @param {http.IncomingMessage} req @returns {Promise<[number, unknown, Record<string, string>?]>} */
    const answer = async (req) => {
      const url = new URL(req.url ?? '/', 'http://double')
      if (url.pathname.startsWith('/repos/')) {
        if (req.method !== 'GET') return [404, { message: 'Not Found' }]
        const result = await answerRest(req, url)
        calls.push({ method: `GET ${url.pathname}`, body: undefined, status: result[0], response: result[1] })
        return result
      }
      const method = url.pathname.startsWith(TWIRP_PREFIX) ? url.pathname.slice(TWIRP_PREFIX.length) : ''
      const raw = await readBody(req)
      /** @type {unknown} */
      let body
      /** @type {[number, unknown]} */
      let result
      try {
        const handler = Object.hasOwn(methods, method) ? methods[method] : undefined
        if (!handler || req.method !== 'POST') {
          throw new TwirpError(404, 'bad_route', `no handler for ${req.method} ${url.pathname}`)
        }
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          throw new TwirpError(404, 'bad_route', 'this double speaks Twirp JSON only')
        }
        const ids = idsFromAuthorization(req.headers.authorization)
        if (failures > 0) {
          failures--
          throw new TwirpError(500, 'internal', 'injected failure')
        }
        try {
          body = JSON.parse(raw)
        } catch {
          throw new TwirpError(400, 'malformed', 'request body is not JSON')
        }
        if (typeof body !== 'object' || body === null) {
          throw new TwirpError(400, 'malformed', 'request body is not an object')
        }
        result = await handler(/** @type {Record<string, unknown>} */ (body), ids)
      } catch (error) {
        if (!(error instanceof TwirpError)) throw error
        result = [error.status, { code: error.code, msg: error.message }]
      }
      calls.push({ method, body, status: result[0], response: result[1] })
      return result
    }

    server = http.createServer((req, res) => {
      answer(req).then(
        ([status, body, headers]) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers })
          res.end(body === '' ? '' : JSON.stringify(body))
        },
        (error) => {
          res.writeHead(500, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ code: 'internal', msg: String(error?.stack ?? error) }))
        }
      )
    })
    await new Promise((resolve, reject) =>
      server?.once('error', reject).listen(0, '127.0.0.1', () => resolve(undefined))
    )
    const address = /** @type {import('node:net').AddressInfo} */ (server.address())
    const resultsUrl = `http://127.0.0.1:${address.port}`

    const [owner] = repository.split('/')
    const now = Math.floor(Date.now() / 1000)
    const env = {
      ACTIONS_RUNTIME_TOKEN: unsignedJwt({
        scp: `Actions.ExampleScope Actions.Results:${runBackendId}:${jobRunBackendId}`,
        iat: now,
        exp: now + 6 * 3600
      }),
      ACTIONS_RESULTS_URL: `${resultsUrl}/`,
      // The library refuses GHES hosts; github.com keeps it on the results-service path.
      GITHUB_SERVER_URL: 'https://github.com',
      // Octokit (artifacts of another run) reads this when @actions/github is first loaded.
      GITHUB_API_URL: resultsUrl,
      GITHUB_REPOSITORY: repository,
      GITHUB_REPOSITORY_OWNER: owner,
      GITHUB_RUN_ID: String(runId),
      GITHUB_RUN_ATTEMPT: '1'
    }
    const httpServer = server

    return {
      env,
      resultsUrl,
      blobUrl,
      artifacts,
      calls,
      failNext(n) {
        failures = n
      },
      async readBlob(name) {
        const artifact = artifacts.findLast((a) => a.name === name)
        if (!artifact) throw new Error(`no artifact named ${name} was created`)
        return container.getBlobClient(artifact.blobName).downloadToBuffer()
      },
      async close() {
        httpServer.closeAllConnections()
        await new Promise((resolve) => httpServer.close(() => resolve(undefined)))
        await azurite.stop()
      }
    }
  } catch (error) {
    server?.closeAllConnections()
    server?.close()
    await azurite.stop()
    throw error
  }
}

/**
 * Reads every file entry of a zip into memory, keyed by its path inside the archive.
 * @param {Buffer} zip
 * @returns {Promise<Map<string, Buffer>>}
 */
export async function unzipEntries(zip) {
  /** @type {Map<string, Buffer>} */
  const files = new Map()
  /** @type {Promise<void>[]} */
  const reads = []
  await new Promise((resolve, reject) => {
    Readable.from([zip])
      .pipe(unzip.Parse())
      .on(
        'entry',
        (/** @type {import('node:stream').Readable & { path: string, type: string, autodrain(): void }} */ entry) => {
          if (entry.type !== 'File') return entry.autodrain()
          /** @type {Buffer[]} */
          const chunks = []
          reads.push(
            new Promise((done, fail) =>
              entry
                .on('data', (/** @type {Buffer} */ c) => chunks.push(c))
                .on('end', () => done(void files.set(entry.path, Buffer.concat(chunks))))
                .on('error', fail)
            )
          )
        }
      )
      .on('finish', resolve)
      .on('error', reject)
  })
  await Promise.all(reads)
  return files
}

/** @typedef {{ runBackendId: string, jobRunBackendId: string }} BackendIds */

class TwirpError extends Error {
  /** @param {number} status @param {string} code @param {string} msg */
  constructor(status, code, msg) {
    super(msg)
    this.status = status
    this.code = code
  }
}

/**
 * The real service trusts the token's scope, not the body: ids in the body must be the token's.
 * Reads may name another job of the same run (download from a sibling job).
 * @param {Record<string, unknown>} body
 * @param {BackendIds} ids
 * @param {{ name: boolean, sameJob: boolean }} need
 */
function requireIds(body, ids, need) {
  for (const field of ['workflow_run_backend_id', 'workflow_job_run_backend_id', ...(need.name ? ['name'] : [])]) {
    if (typeof body[field] !== 'string' || body[field] === '') {
      throw new TwirpError(400, 'invalid_argument', `${field} is required`)
    }
  }
  const run = /** @type {string} */ (body.workflow_run_backend_id)
  const job = /** @type {string} */ (body.workflow_job_run_backend_id)
  if (run !== ids.runBackendId) {
    throw new TwirpError(403, 'permission_denied', 'token is not scoped to this workflow run')
  }
  if (need.sameJob && job !== ids.jobRunBackendId) {
    throw new TwirpError(403, 'permission_denied', 'token is not scoped to this job')
  }
  return { run, job, name: typeof body.name === 'string' ? body.name : '' }
}

/** @param {unknown} value @param {string} field */
function optionalTimestamp(value, field) {
  if (value === undefined) return undefined
  const date = typeof value === 'string' ? new Date(value) : new Date(NaN)
  if (Number.isNaN(date.getTime())) {
    throw new TwirpError(400, 'invalid_argument', `${field} must be an RFC 3339 timestamp`)
  }
  return date
}

/** @param {string | undefined} header @returns {BackendIds} */
function idsFromAuthorization(header) {
  const token = header?.match(/^Bearer (\S+)$/)?.[1]
  if (!token) throw new TwirpError(401, 'unauthenticated', 'missing bearer token')
  /** @type {unknown} */
  let claims
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
  } catch {
    throw new TwirpError(401, 'unauthenticated', 'token is not a JWT')
  }
  const scp = /** @type {{ scp?: unknown }} */ (claims)?.scp
  const scope = typeof scp === 'string' ? scp.split(' ').find((s) => s.startsWith('Actions.Results:')) : undefined
  const [, runBackendId, jobRunBackendId] = scope?.split(':') ?? []
  if (!runBackendId || !jobRunBackendId) {
    throw new TwirpError(401, 'unauthenticated', 'token has no Actions.Results scope')
  }
  return { runBackendId, jobRunBackendId }
}

/** @param {Record<string, unknown>} claims */
function unsignedJwt(claims) {
  /** @param {object} part */
  const encode = (part) => Buffer.from(JSON.stringify(part)).toString('base64url')
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`
}

/** @param {http.IncomingMessage} req @returns {Promise<string>} */
async function readBody(req) {
  /** @type {Buffer[]} */
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** @returns {Promise<{ url: string, stop: () => Promise<void> }>} */
async function startAzurite() {
  const child = spawn(
    process.execPath,
    [
      AZURITE_MAIN,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      // The SDK sends a newer x-ms-version than Azurite knows.
      '--skipApiVersionCheck',
      // Otherwise it tries to reach a telemetry endpoint on every run.
      '--disableTelemetry',
      '--silent'
    ],
    { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] }
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
  let output = ''
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within 30 s:\n${output}`)), 30_000)
      /** @param {Buffer} chunk */
      const onOutput = (chunk) => {
        output += chunk.toString()
        const listening = output.match(/listens on (http:\/\/\S+)/)
        if (listening) {
          clearTimeout(timer)
          resolve(listening[1])
        }
      }
      child.stdout.on('data', onOutput)
      child.stderr.on('data', onOutput)
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`Azurite exited with ${code} before listening:\n${output}`)))
    })
    // Keep draining so a chatty child never blocks on a full pipe.
    child.stdout.resume()
    child.stderr.resume()
    return { url: String(url).replace(/\/$/, ''), stop }
  } catch (error) {
    await stop()
    throw error
  }
}
