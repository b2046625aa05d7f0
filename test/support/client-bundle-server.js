// Serves the PostgreSQL client bundles (17 and 18, built by scripts/build-client-bundle.sh) on loopback,
// named like the production release assets, so the action's real download, checksum, extract and cache
// path runs against real binaries. Plain JavaScript: jest setup, the demo and the benchmark all load it.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Where scripts/build-client-bundle.sh puts the tarballs and their .sha256 files. */
export const CLIENT_BUNDLE_DIR = path.join(REPO_ROOT, '.testbed', 'client')

export const CLIENT_BUNDLE_TARGET = 'x86_64-unknown-linux-gnu'

/** Paths under this prefix serve the named file with bytes flipped, so a checksum must refuse it. */
export const CORRUPT_PREFIX = '/corrupt/'

const BUNDLE_NAME = /^postgresql-((\d+)\.\d+\.\d+)-x86_64-unknown-linux-gnu\.tar\.gz$/

/**
 * @typedef {{ version: string, file: string, sha256File: string }} ClientBundle
 * `requests` lists every request path in arrival order, 404s included.
 * @typedef {{
 *   url: string,
 *   template: string,
 *   corruptTemplate: string,
 *   requests: string[],
 *   close: () => Promise<void>
 * }} ClientBundleServer
 */

/**
 * The built bundle of one major, the newest if several are there.
 * @param {string} [dir]
 * @param {number} [major]
 * @returns {ClientBundle}
 */
export function findClientBundle(dir = CLIENT_BUNDLE_DIR, major = 17) {
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : []
  const found = names
    .map((name) => ({ name, match: BUNDLE_NAME.exec(name) }))
    .filter(({ name, match }) => match && Number(match[2]) === major && names.includes(`${name}.sha256`))
    .map(({ name, match }) => ({ name, version: /** @type {RegExpExecArray} */ (match)[1] }))
    .sort((a, b) => compareVersions(b.version, a.version))
  if (found.length === 0) {
    throw new Error(
      `no PostgreSQL ${major} client bundle in ${dir}: run \`bash scripts/build-client-bundle.sh ${major}\` (or \`npm run testbed\`)`
    )
  }
  const file = path.join(dir, found[0].name)
  return { version: found[0].version, file, sha256File: `${file}.sha256` }
}

/**
 * Starts an HTTP server on 127.0.0.1 that serves the files in `dir` by name and 404s anything else.
 * `corrupt: true` makes every tarball it serves corrupt (the .sha256 stays right); without it, only
 * paths under /corrupt/ are.
 * @param {{ dir: string, corrupt?: boolean }} options
 * @returns {Promise<ClientBundleServer>}
 */
export async function startClientBundleServer({ dir, corrupt = false }) {
  /** @type {string[]} */
  const requests = []
  const server = http.createServer((req, res) => {
    /** @type {string} */
    let pathname
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
    } catch {
      return notFound(res)
    }
    requests.push(pathname)
    const corrupted = pathname.startsWith(CORRUPT_PREFIX)
    const name = byMajor(dir, corrupted ? pathname.slice(CORRUPT_PREFIX.length) : pathname.slice(1))
    const file = path.join(dir, name)
    // Only plain file names inside dir: nothing above it, nothing in subfolders.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !name || name.includes('/') || name.startsWith('.')) {
      return notFound(res)
    }
    fs.stat(file, (error, stat) => {
      if (error || !stat.isFile()) return notFound(res)
      const flip = (corrupted || corrupt) && !name.endsWith('.sha256')
      res.writeHead(200, {
        'content-type': name.endsWith('.sha256') ? 'text/plain' : 'application/octet-stream',
        'content-length': stat.size
      })
      if (req.method === 'HEAD') return res.end()
      if (!flip) return fs.createReadStream(file).pipe(res)
      fs.readFile(file, (readError, data) => {
        if (readError) return res.destroy(readError)
        res.end(flipBytes(data))
      })
    })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  const address = server.address()
  if (!address || typeof address !== 'object') throw new Error('client bundle server has no address')
  const url = `http://127.0.0.1:${address.port}`
  // By major, as a mirror that carries one release of each major: the action's release table names
  // the newest upstream release, the bundle is whatever Debian ships, and a URL without {version}
  // never claims a release it cannot serve. Exact names (postgresql-17.12.0-…) are served too.
  const asset = 'postgresql-{major}-{target}.tar.gz'
  return {
    url,
    template: `${url}/${asset}`,
    corruptTemplate: `${url}${CORRUPT_PREFIX}${asset}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/**
 * `postgresql-<major>-<target>.tar.gz[.sha256]` names the newest bundle of that major in dir; other
 * names pass through.
 * @param {string} dir @param {string} name
 */
function byMajor(dir, name) {
  const match = /^postgresql-(\d+)-x86_64-unknown-linux-gnu\.tar\.gz(\.sha256)?$/.exec(name)
  if (!match) return name
  try {
    return path.basename(findClientBundle(dir, Number(match[1])).file) + (match[2] ?? '')
  } catch {
    return name
  }
}

/**
 * A copy with bytes in the middle flipped: same size, a different checksum, and a broken gzip stream.
 * @param {Buffer} data
 */
function flipBytes(data) {
  const copy = Buffer.from(data)
  const start = Math.floor(copy.length / 2)
  for (let i = start; i < Math.min(copy.length, start + 64); i++) copy[i] ^= 0xff
  return copy
}

/** @param {http.ServerResponse} res */
function notFound(res) {
  res.writeHead(404, { 'content-type': 'text/plain' })
  res.end('not found\n')
}

/** @param {string} a @param {string} b */
function compareVersions(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
