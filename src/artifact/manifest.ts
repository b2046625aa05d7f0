import fs from 'node:fs'
import path from 'node:path'
import { MigrationError } from '../base/errors.js'
import { filesUnder, sha256File } from '../base/files.js'
import type { ResolvedScope } from '../scope/types.js'
import type { Client } from '../tools/client/install.js'
import type { DumpResult } from '../tools/pg-dump.js'
import type { TocObject } from '../tools/toc.js'
import type { Fingerprint } from '../verify/fingerprint/index.js'

export const MANIFEST_FILE = 'manifest.json'
/**
 * Bumped when a reader of an older action could misread the manifest. 2: the source fingerprint
 * names objects by their stored names and hashes rows over columns in order of name; a fingerprint
 * of format 1 cannot be compared with a target fingerprinted now, so such a dump is refused. 3: a
 * dump made with filters, which an older reader would verify as a whole database; a dump without
 * filters is still written as 2, which older readers take.
 */
export const MANIFEST_FORMAT = 3
const FORMATS_READ = [2, 3]

/** Travels with the dump: what it is, how to check it, and the source as it was in the dump's snapshot. */
export interface Manifest {
  format: number
  database: string
  sourceVersion: string
  clientVersion: string
  snapshotTakenAt: string
  /** Source database encoding, for creating the target database. */
  encoding: string
  /** Extensions the dump creates: restore mode checks the target offers them. */
  extensions: string[]
  dumpOptions: string[]
  /** sha256 of every file in the dump folder, by path relative to it. */
  files: Record<string, string>
  sourceFingerprint?: Fingerprint
  /** The run that made the dump: a target being loaded from it carries the same (a resumed run checks). */
  runId?: string
  /** What the dump holds, when it was made with filters: a restore restores and verifies exactly that. */
  scope?: ResolvedScope
  /** The object each TOC entry makes, by dump id: a resumed run restores what the target lacks. */
  toc?: Record<string, TocObject>
}

function dumpFiles(dir: string): string[] {
  return filesUnder(dir).filter((file) => file !== MANIFEST_FILE)
}

const damaged = (message: string, hint: string): MigrationError => new MigrationError('dump-damaged', message, { hint })

export async function writeManifest(
  dir: string,
  parts: {
    database: string
    encoding: string
    extensions: string[]
    dump: DumpResult
    client: Client
    sourceVersion: string
    snapshotTakenAt: string
    fingerprint?: Fingerprint
    runId: string
    scope?: ResolvedScope
    toc: Record<string, TocObject>
  }
): Promise<Manifest> {
  const files: Record<string, string> = {}
  for (const file of dumpFiles(dir)) files[file] = await sha256File(path.join(dir, file))
  const manifest: Manifest = {
    format: parts.scope ? MANIFEST_FORMAT : 2,
    database: parts.database,
    sourceVersion: parts.sourceVersion,
    clientVersion: parts.client.version,
    snapshotTakenAt: parts.snapshotTakenAt,
    encoding: parts.encoding,
    extensions: parts.extensions,
    dumpOptions: parts.dump.options,
    files,
    sourceFingerprint: parts.fingerprint,
    runId: parts.runId,
    ...(parts.scope ? { scope: parts.scope } : {}),
    toc: parts.toc
  }
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest) + '\n')
  return manifest
}

/**
 * Reads the manifest and checks every dump file against it before anything touches the target:
 * a partial or corrupted artifact is refused here.
 */
export async function readVerifiedManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST_FILE)
  if (!fs.existsSync(file)) {
    throw new MigrationError(
      'no-manifest',
      `no ${MANIFEST_FILE} in ${dir}: not a dump made by this action, or an incomplete download`
    )
  }
  let manifest: Manifest
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest
  } catch {
    throw damaged(`${file} is not valid JSON`, 'the dump is damaged: make it again with mode: dump')
  }
  if (!FORMATS_READ.includes(manifest.format)) {
    throw damaged(
      `${file} has format ${manifest.format}; this action reads formats ${FORMATS_READ.join(' and ')}`,
      'restore with the action version that made the dump, or dump again'
    )
  }
  const expected = Object.keys(manifest.files ?? {}).sort()
  const actual = dumpFiles(dir)
  const missing = expected.filter((f) => !actual.includes(f))
  const extra = actual.filter((f) => !expected.includes(f))
  if (missing.length > 0 || extra.length > 0) {
    throw damaged(
      `the dump in ${dir} does not match its manifest (${missing.length ? `missing: ${missing.slice(0, 5).join(', ')}` : ''}${extra.length ? ` extra: ${extra.slice(0, 5).join(', ')}` : ''})`,
      'the artifact is partial: download it again or dump again'
    )
  }
  for (const name of expected) {
    if ((await sha256File(path.join(dir, name))) !== manifest.files[name]) {
      throw damaged(
        `${name} in ${dir} does not match its sha256 in the manifest`,
        'the dump is corrupted: download it again or dump again; the target was not touched'
      )
    }
  }
  return manifest
}
