// The application corpus's schemas, fetched at run time from the packages that ship them (Debian
// binary packages through scripts/corpus/fetch-debs.sh, npm packages through npm pack), never kept in
// the repository. scripts/corpus/apps.json names each package, its version and the files to load.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import zlib from 'node:zlib'
import { REPO_ROOT } from '../../test/support/servers.js'
import { CORPUS_DIR } from './cluster.js'

export const MANIFEST = path.join(REPO_ROOT, 'scripts', 'corpus', 'apps.json')
const DEBS_DIR = path.join(CORPUS_DIR, 'apps-debs')
const NPM_DIR = path.join(CORPUS_DIR, 'apps-npm')
const APPS_DIR = path.join(CORPUS_DIR, 'apps')

/**
 * @typedef {{ deb?: string, npm?: string, local?: string, version?: string }} PackageRef
 * local: a folder of one's own schema files (relative to the manifest), for a manifest given with --manifest.
 * @typedef {{ name: string, packages: PackageRef[], files?: string[], generate?: string, before?: string[], after?: string[],
 *   substitute?: Record<string, string>, singleTransaction?: boolean, rowsPerTable?: number }} AppEntry
 * @typedef {AppEntry & { sqlFiles: string[], versions: { package: string, version: string }[] }} FetchedApp
 */

/** @returns {{ debianSuite: string, apps: AppEntry[] }} */
export function readManifest(file = MANIFEST) {
  return JSON.parse(fs.readFileSync(file, 'utf8'))
}

/**
 * Every app of the manifest (or only those named) with its SQL files on disk, in load order.
 * @param {{ only?: string[], manifestFile?: string, log: (line: string) => void }} options @returns {Promise<FetchedApp[]>}
 */
export async function fetchApps({ only, manifestFile = MANIFEST, log }) {
  const manifest = readManifest(manifestFile)
  const apps = manifest.apps.filter((app) => !only || only.includes(app.name))
  const unknown = (only ?? []).filter((name) => !manifest.apps.some((app) => app.name === name))
  if (unknown.length) throw new Error(`--apps: no app named ${unknown.join(', ')} in ${manifestFile}`)
  const wantedDebs = apps.flatMap((app) => app.packages.filter((p) => p.deb && !debFile(p.deb, p.version)))
  if (wantedDebs.length) {
    execFileSync(
      'bash',
      [
        path.join(REPO_ROOT, 'scripts', 'corpus', 'fetch-debs.sh'),
        manifest.debianSuite,
        DEBS_DIR,
        ...wantedDebs.map((p) => `${p.deb}=${p.version}`)
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] }
    )
  }
  for (const ref of apps.flatMap((app) => app.packages).filter((p) => p.npm && !npmFile(p.npm, p.version))) {
    log(`npm pack ${ref.npm}@${ref.version}`)
    fs.mkdirSync(NPM_DIR, { recursive: true })
    const [program, ...args] = npmCommand()
    execFileSync(program, [...args, 'pack', `${ref.npm}@${ref.version}`, '--pack-destination', NPM_DIR, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit']
    })
  }
  return Promise.all(apps.map((app) => unpackApp(app, path.dirname(manifestFile))))
}

/** @param {AppEntry} app @param {string} manifestDir @returns {Promise<FetchedApp>} */
async function unpackApp(app, manifestDir) {
  const dir = path.join(APPS_DIR, app.name)
  fs.rmSync(dir, { recursive: true, force: true })
  const versions = []
  for (const ref of app.packages) {
    const key = /** @type {string} */ (ref.deb ?? ref.npm ?? ref.local)
    const root = path.join(dir, key)
    fs.mkdirSync(root, { recursive: true })
    const patterns = (app.files ?? [])
      .filter((file) => file.startsWith(`${key}:`))
      .map((file) => file.slice(file.indexOf(':') + 1))
    if (ref.local) {
      fs.cpSync(path.resolve(manifestDir, ref.local), root, { recursive: true })
      versions.push({ package: ref.local, version: ref.version ?? 'local' })
    } else if (ref.deb) {
      const deb = /** @type {string} */ (debFile(ref.deb, ref.version) ?? debFile(ref.deb))
      const tar = execFileSync('dpkg-deb', ['--fsys-tarfile', deb], { maxBuffer: 1 << 30 })
      execFileSync('tar', ['-x', '-C', root, '--wildcards', ...patterns.map((p) => `./${p}`)], { input: tar })
      versions.push({ package: ref.deb, version: execFileSync('dpkg-deb', ['-f', deb, 'Version']).toString().trim() })
    } else {
      const tgz = /** @type {string} */ (npmFile(/** @type {string} */ (ref.npm), ref.version))
      execFileSync('tar', ['-xzf', tgz, '-C', root])
      versions.push({ package: /** @type {string} */ (ref.npm), version: /** @type {string} */ (ref.version) })
    }
  }
  const sqlFiles = []
  for (const file of app.files ?? []) {
    const [pkg, pattern] = [file.slice(0, file.indexOf(':')), file.slice(file.indexOf(':') + 1)]
    for (const found of expand(path.join(dir, pkg), pattern)) if (!sqlFiles.includes(found)) sqlFiles.push(found)
  }
  if (app.generate) sqlFiles.push(await generate(app, dir))
  return { ...app, versions, sqlFiles: sqlFiles.map(gunzipped).map((file) => substituted(file, app.substitute)) }
}

/** The files a path matches, where its last segment may hold one `*`, sorted. */
function expand(root, pattern) {
  const full = path.join(root, pattern)
  const base = path.basename(full)
  if (!base.includes('*')) {
    if (!fs.existsSync(full)) throw new Error(`the package has no ${pattern}`)
    return [full]
  }
  const [prefix, suffix] = base.split('*')
  const found = fs
    .readdirSync(path.dirname(full))
    .filter((name) => name.startsWith(prefix) && name.endsWith(suffix))
    .sort()
  if (found.length === 0) throw new Error(`the package has nothing matching ${pattern}`)
  return found.map((name) => path.join(path.dirname(full), name))
}

function gunzipped(file) {
  if (!file.endsWith('.gz')) return file
  const plain = file.slice(0, -'.gz'.length)
  fs.writeFileSync(plain, zlib.gunzipSync(fs.readFileSync(file)))
  return plain
}

/** An installer's placeholders replaced as it replaces them (in function bodies too, which psql's variables miss). */
function substituted(file, substitute) {
  if (!substitute) return file
  let text = fs.readFileSync(file, 'utf8')
  for (const [placeholder, value] of Object.entries(substitute))
    text = text.replace(new RegExp(`${placeholder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g'), value)
  fs.writeFileSync(file, text)
  return file
}

/**
 * Schemas an npm package writes from code rather than ships as a file: its own function renders
 * the SQL it would run on install.
 * @param {AppEntry} app @param {string} dir
 */
async function generate(app, dir) {
  const out = path.join(dir, `${app.name}.generated.sql`)
  if (app.generate === 'pg-boss') {
    const root = path.join(dir, 'pg-boss', 'package')
    const schemaVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).pgboss.schema
    const plans = await import(pathToFileURL(path.join(root, 'dist', 'plans.js')).href)
    fs.writeFileSync(out, `${plans.create('pgboss', schemaVersion, { createSchema: true })};\n`)
    return out
  }
  throw new Error(`${app.name}: no generator named ${app.generate}`)
}

/** The downloaded .deb of a package: of that version (apt writes an epoch's colon as %3a), else any. */
function debFile(pkg, version) {
  const prefix = version ? `${pkg}_${version.replace(':', '%3a')}_` : `${pkg}_`
  const found = fs.existsSync(DEBS_DIR) ? fs.readdirSync(DEBS_DIR).filter((name) => name.startsWith(prefix)) : []
  return found.length ? path.join(DEBS_DIR, found.sort().at(-1)) : undefined
}

function npmFile(pkg, version) {
  const file = path.join(NPM_DIR, `${pkg.replace(/^@/, '').replace('/', '-')}-${version}.tgz`)
  return fs.existsSync(file) ? file : undefined
}

/** The npm that started `npm run corpus` (its script, run by this node), else the one on PATH. */
function npmCommand() {
  const script = process.env.npm_execpath
  return script && /\.c?js$/.test(script) ? [process.execPath, script] : ['npm']
}
