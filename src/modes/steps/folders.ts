import path from 'node:path'
import { safeFileName } from '../../base/files.js'

/**
 * Where one database's dump goes: the folder itself, or a subfolder per database when there are
 * several, named through safeFileName: a database named `x/../../tmp` stays inside dump-path.
 */
export function dumpFolder(dumpPath: string, jobs: number, database: string): string {
  return jobs > 1 ? path.join(dumpPath, safeFileName(database)) : dumpPath
}
