import path from 'node:path'

/** Where one database's dump goes: the folder itself, or a subfolder per database when there are several. */
export function dumpFolder(dumpPath: string, jobs: number, database: string): string {
  return jobs > 1 ? path.join(dumpPath, database) : dumpPath
}
