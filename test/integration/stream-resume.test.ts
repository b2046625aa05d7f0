// Resume on the stream: a runner that dies while the rows stream (SIGKILL of the action and all it
// started, while a proxy holds one block range's COPY and every other piece has committed), then a
// run with if-target-not-empty: resume keeps each piece the first run committed and streams only the
// rest. A kept table that the source changed in between makes the verify fail: never a false pass.
import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import { killProcessesWith, startHoldingProxy } from '../support/faults.js'
import { outcome, PASSED } from '../support/run-action.js'
import { serverUrl } from '../support/servers.js'
import { sessionsGone, SOURCE_SQL, TABLES } from '../support/kill-and-resume.js'
import { scratchFolder } from '../support/scratch.js'
import { loadTestbed, tableDigests, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const scratch = scratchFolder('stream-resume-')
const run = testbed.runner(path.join(scratch, 'tool-cache'))
const source = uniqueName('streamdies')

const WHOLE = ['big_b', 'mid', 'small_a', 'small_b']

beforeAll(() => testbed.createSourceDatabase(source, SOURCE_SQL), 120_000)

/**
 * The pieces the target records as committed. `whenAbsent`: what a missing record means (none yet,
 * or gone after a verified copy); without it a missing record throws, as it must once the stream
 * has begun: a bundle that records no pieces would otherwise leave the wait below to time out.
 */
async function recordedPieces(database: string, whenAbsent?: string[]): Promise<string[]> {
  return withClient(testbed.targetSuperUrl(database), (client: pg.Client) =>
    client
      .query<{ piece: string }>('SELECT piece FROM "_pg_migrate_action".piece ORDER BY 1')
      .then((result) => result.rows.map((row) => row.piece))
      .catch((error: { code?: string }) => {
        if (whenAbsent && error.code === '42P01') return whenAbsent
        throw error
      })
  )
}

const rowsOn = async (database: string, table: string): Promise<number> =>
  Number((await testbed.query('target', database, `SELECT count(*) AS n FROM public.${table}`)).rows[0].n)

/**
 * Waits until every piece but the held one is recorded: big_a's first range (two ranges, one per
 * pair: with more, the held pair would leave others undone) and the whole tables.
 */
async function everyOtherPieceRecorded(database: string, stdout: () => string, ended: () => boolean): Promise<void> {
  for (;;) {
    if (ended()) throw new Error(`the run ended before it was killed: ${stdout().slice(-2000)}`)
    const ranges = /big_a: split into (\d+) block ranges/.exec(stdout())?.[1]
    if (ranges !== undefined && ranges !== '2') throw new Error(`big_a was split into ${ranges} ranges, not 2`)
    // The record is made before the stream begins (and says the split): it must exist by now.
    if (ranges && (await recordedPieces(database)).length === WHOLE.length + 1) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The source's COPY of big_a's last block range (the open one: no upper bound), as the engine reads
 * a range: held whichever pair takes it and whenever, so every other piece commits in any order.
 */
const LAST_BIG_A_RANGE =
  /COPY \(SELECT [^)]* FROM ONLY "public"\."big_a" AS r WHERE r\.ctid OPERATOR\(pg_catalog\.>=\) '\([1-9]\d*,0\)'::pg_catalog\.tid\) TO STDOUT/

/**
 * Streams into `database` through a proxy in front of the source that holds the COPY of big_a's
 * last range: once every other piece is recorded, the run and all it started are killed. Returns
 * the pieces recorded then.
 */
async function killWhileStreaming(inputs: Record<string, string>, database: string) {
  const proxy = await startHoldingProxy(testbed.source, LAST_BIG_A_RANGE)
  try {
    const workDir = fs.mkdtempSync(path.join(scratch, 'runner-'))
    let stdout = ''
    let ended = false
    const running = run(
      { ...inputs, 'source-url': serverUrl({ ...testbed.source, port: proxy.port }, source) },
      { workDir, onStdout: (chunk: string) => (stdout += chunk) }
    ).finally(() => (ended = true))
    try {
      await everyOtherPieceRecorded(
        database,
        () => stdout,
        () => ended
      )
    } catch (error) {
      // A failed wait leaves nothing running behind it: the run and all it started are stopped.
      killProcessesWith(path.join(workDir, 'temp'))
      await running.catch(() => undefined)
      throw error
    }
    expect(await Promise.race([proxy.held, running.then(() => '')])).toMatch(/^COPY /)
    const killed = killProcessesWith(path.join(workDir, 'temp'))
    const died = await running
    fs.rmSync(workDir, { recursive: true, force: true })
    await sessionsGone(testbed.targetSuperUrl, database)
    return { died, killed, recorded: await recordedPieces(database) }
  } finally {
    await proxy.close()
  }
}

const STREAM = { 'copy-method': 'stream' }
const piecesOf = (recorded: string[], table: string) =>
  recorded.filter((piece) => (JSON.parse(piece) as unknown[])[1] === table)

test('the runner dies while the rows stream; resume keeps every committed piece and streams the rest', async () => {
  const target = uniqueName('streamkilled')
  const inputs = { ...STREAM, 'source-url': testbed.sourceUrl(source), 'target-url': testbed.targetUrl(target) }
  const { died, killed, recorded } = await killWhileStreaming(inputs, target)
  expect(died.exitCode).toBeNull()
  expect(killed).toBeGreaterThanOrEqual(1)
  // One of big_a's two ranges committed, its rows and its record together; the held one left nothing.
  expect(piecesOf(recorded, 'big_a')).toHaveLength(1)
  for (const table of WHOLE) expect(piecesOf(recorded, table)).toEqual([JSON.stringify(['public', table, null, null])])
  const partial = await rowsOn(target, 'big_a')
  expect(partial).toBeGreaterThan(0)
  expect(partial).toBeLessThan(TABLES.big_a)

  const resumed = await run({ ...inputs, 'if-target-not-empty': 'resume' })
  expect(outcome(resumed)).toEqual(PASSED)
  const [database] = resumed.report.databases
  expect(database.comparison.passed).toBe(true)
  expect({ ...database.resume, kept: [...database.resume.kept].sort() }).toMatchObject({
    pieces: { kept: 5, streamed: 1 },
    kept: WHOLE.map((table) => `public.${table}`),
    reloaded: ['public.big_a'],
    streamedWhole: 0
  })
  // Only the held range's rows moved again: the kept pieces were not copied a second time.
  expect(database.stream.rows).toBe(TABLES.big_a - partial)
  expect(await tableDigests(testbed.targetSuperUrl(target))).toEqual(await tableDigests(testbed.sourceUrl(source)))
  expect(resumed.summary).toContain('kept 5 pieces the earlier run had committed, streamed 1 piece')
  // The copy is whole and verified: the mark and the record of pieces are gone.
  expect(await recordedPieces(target, [])).toEqual([])
})

// Last: it changes the source.
test('a kept table the source changed between the runs fails the verify', async () => {
  const target = uniqueName('streamchanged')
  const inputs = { ...STREAM, 'source-url': testbed.sourceUrl(source), 'target-url': testbed.targetUrl(target) }
  await killWhileStreaming(inputs, target)
  // small_b streamed whole and was recorded: its piece is kept, though a row changed on the source.
  await testbed.query('source', source, `UPDATE small_b SET note = 'changed' WHERE id = 1`)
  const resumed = await run({ ...inputs, 'if-target-not-empty': 'resume' })
  expect(resumed.report.result).toBe('failed')
  const [database] = resumed.report.databases
  expect(database.resume.kept).toContain('public.small_b')
  expect(database.comparison.passed).toBe(false)
  const differences = database.comparison.differences.filter((d: { expected: boolean }) => !d.expected)
  expect(differences.map((d: { kind: string; object: string }) => [d.kind, d.object])).toEqual([
    ['checksum', 'public.small_b']
  ])
})
