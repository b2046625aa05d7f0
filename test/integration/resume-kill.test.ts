// A runner that dies: the bundled action and every process it started are killed with SIGKILL in
// the middle of the data load of a multi-table database (on a log line, never after a delay, while a
// proxy holds one table's COPY), then a second run with if-target-not-empty: resume finishes the
// copy. Only the tables that were not complete when the runner died are loaded again, and the
// verification passes.
import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import { killProcessesWith, onLine, startHoldingProxy } from '../support/faults.js'
import { runInProcess } from '../support/in-process.js'
import { outcome, PASSED } from '../support/run-action.js'
import { serverUrl } from '../support/servers.js'
import { loadTestbed, uniqueName, withClient } from '../support/testbed.js'
import { sessionsGone, SOURCE_SQL, TABLES } from '../support/kill-and-resume.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('resume-kill-')
const run = testbed.runner(path.join(scratch, 'tool-cache'))
const source = uniqueName('dies')

beforeAll(() => testbed.createSourceDatabase(source, SOURCE_SQL), 120_000)

/** Tables whose rows on the target are all the source's, by the test's own count. */
async function completeTables(database: string): Promise<string[]> {
  return withClient(testbed.targetSuperUrl(database), async (client: pg.Client) => {
    const complete: string[] = []
    for (const [table, rows] of Object.entries(TABLES)) {
      const found = await client
        .query(`SELECT count(*)::int AS n FROM public.${table}`)
        .then((r) => r.rows[0].n as number)
        .catch(() => -1)
      if (found === rows) complete.push(`public.${table}`)
    }
    return complete.sort()
  })
}

/**
 * Runs the action with the target behind a proxy that holds big_a's COPY: the load cannot end, so
 * big_a is incomplete and the load's processes are alive when the test strikes, whatever the
 * machine's load (a log line seen late could come after the load was over). Kills the run and all it
 * started once big_a is held and stdout showed `line`; returns the run, how many processes were
 * killed, and the held statement ('' when the run ended first).
 */
async function killWhileLoading(
  inputs: Record<string, string>,
  database: string,
  line: RegExp
): Promise<{ died: Awaited<ReturnType<typeof run>>; killed: number; held: string }> {
  const proxy = await startHoldingProxy(testbed.target, /COPY \S*big_a"? \([^)]*\) FROM stdin/i)
  try {
    const workDir = fs.mkdtempSync(path.join(scratch, 'runner-'))
    let lineSeen: () => void = () => undefined
    const seen = new Promise<void>((resolve) => (lineSeen = resolve))
    const running = run(
      { ...inputs, 'target-url': serverUrl({ ...testbed.target, port: proxy.port }, database, testbed.target.admin) },
      { workDir, onStdout: onLine(line, () => lineSeen()) }
    )
    const held = await Promise.race([
      Promise.all([proxy.held, seen]).then(([statement]) => statement),
      running.then(() => '')
    ])
    const killed = killProcessesWith(path.join(workDir, 'temp'))
    const died = await running
    // The runner took its folder with it.
    fs.rmSync(workDir, { recursive: true, force: true })
    return { died, killed, held }
  } finally {
    await proxy.close()
  }
}

const all = Object.keys(TABLES)
  .map((t) => `public.${t}`)
  .sort()

test('restore: the runner dies while tables load; resume from the same dump loads only the incomplete ones', async () => {
  const dumpPath = path.join(scratch, 'dump')
  const dumped = await runInProcess(
    {
      mode: 'dump',
      'source-url': testbed.sourceUrl(source),
      'dump-path': dumpPath,
      'upload-artifact': 'false',
      'postgres-version': '17'
    },
    { env: { PGBIN: testbed.clientBinDir } }
  )
  expect(dumped.report.result).toBe('passed')
  const target = uniqueName('killed')
  const inputs = { mode: 'restore', 'target-url': testbed.targetUrl(target), 'dump-path': dumpPath }
  // pg_restore's leader says so when a table's data is in: that one is complete, big_a is not.
  const { died, killed, held } = await killWhileLoading(inputs, target, /pg_restore: finished item \d+ TABLE DATA/)
  expect(held).toMatch(/^COPY /)
  expect(killed).toBeGreaterThanOrEqual(2)
  expect(died.exitCode).toBeNull()
  await sessionsGone(testbed.targetSuperUrl, target)
  const complete = await completeTables(target)
  expect(complete.length).toBeGreaterThanOrEqual(1)
  expect(complete.length).toBeLessThan(all.length)

  const resumed = await run({ ...inputs, 'if-target-not-empty': 'resume' })
  expect(outcome(resumed)).toEqual(PASSED)
  expect(resumed.report.databases[0].comparison.passed).toBe(true)
  const resume = resumed.report.databases[0].resume
  expect({ kept: resume.kept, reloaded: [...resume.reloaded].sort() }).toEqual({
    kept: complete,
    reloaded: all.filter((t) => !complete.includes(t))
  })
  expect(await completeTables(target)).toEqual(all)
  expect(resumed.summary).toContain(`kept ${complete.length} table`)
})

test('migrate: the runner dies with its folder while big tables load beside the dump; resume makes a new dump and keeps what matches it', async () => {
  const target = uniqueName('vanished')
  const inputs = { 'source-url': testbed.sourceUrl(source), 'target-url': testbed.targetUrl(target) }
  // The first table loaded beside the dump is in (big_b: big_a is held).
  const { died, killed, held } = await killWhileLoading(inputs, target, /^tables restored: 1\//)
  expect(held).toMatch(/^COPY /)
  expect(killed).toBeGreaterThanOrEqual(1)
  expect(died.exitCode).toBeNull()
  // The runner took its folder with it: the dump is gone, and there is no artifact outside Actions.
  await sessionsGone(testbed.targetSuperUrl, target)
  const complete = await completeTables(target)
  expect(complete.length).toBeGreaterThanOrEqual(1)
  expect(complete.length).toBeLessThan(all.length)

  const resumed = await run({ ...inputs, 'if-target-not-empty': 'resume' })
  expect(outcome(resumed)).toEqual(PASSED)
  const resume = resumed.report.databases[0].resume
  expect({ dump: resume.dump, kept: resume.kept, reloaded: [...resume.reloaded].sort() }).toEqual({
    dump: 'new',
    kept: complete,
    reloaded: all.filter((t) => !complete.includes(t))
  })
  expect(resumed.stdout).toMatch(/the dump of run \S+ is gone .* making a new dump/)
  expect(resumed.summary).toContain('with a new dump')
  expect(await completeTables(target)).toEqual(all)
})
