import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { beforeAll } from '@jest/globals'
import { serverUrl } from './servers.js'
import { loadTestbed, quoteIdent, uniqueName, withClient } from './testbed.js'

/**
 * The source login of the sync tests: an owner with REPLICATION, not a superuser, made before the
 * file's tests run. Its databases, and the inputs of a `sync: logical` run from one of them.
 */
export function syncOwner(prefix: string, scratch: string) {
  const testbed = loadTestbed()
  const owner = { user: uniqueName(prefix), password: randomBytes(12).toString('hex') }
  const ownerUrl = (database: string): string => serverUrl(testbed.source, database, owner)
  beforeAll(async () => {
    await testbed.query(
      'source',
      'postgres',
      `CREATE ROLE ${quoteIdent(owner.user)} LOGIN REPLICATION PASSWORD '${owner.password}'`
    )
  })
  return {
    ownerUrl,
    /** A database the owner owns, made by `sql` run as the owner. */
    async sourceDatabase(databasePrefix: string, sql: string): Promise<string> {
      const name = uniqueName(databasePrefix)
      await testbed.query('source', 'postgres', `CREATE DATABASE ${name} OWNER ${quoteIdent(owner.user)}`)
      await withClient(ownerUrl(name), (client) => client.query(sql))
      return name
    },
    /** A migrate of `source` into the target's database of the same name, under sync: logical. */
    migrate(source: string, extra: Record<string, string> = {}): Record<string, string> {
      return {
        'source-url': ownerUrl(source),
        'target-url': testbed.targetUrl(source),
        jobs: '2',
        'upload-artifact': 'false',
        'dump-path': path.join(scratch, uniqueName('dump')),
        sync: 'logical',
        'cutover-idle-seconds': '2',
        ...extra
      }
    }
  }
}
