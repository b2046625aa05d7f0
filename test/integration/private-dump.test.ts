import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption'
import type { RunScope } from '../../src/base/scope.js'
import { ProcessRunner, type ToolRunner } from '../../src/tools/run-tool.js'
import { startArtifactServices, unzipEntries } from '../support/artifact-service.js'
import { runInProcess } from '../support/in-process.js'
import { errorLines, outcome, PASSED, runAction } from '../support/run-action.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

const testbed = loadTestbed()
let services: Awaited<ReturnType<typeof startArtifactServices>>
let scratch: string
let publicRun: Record<string, string>
let key: string
let otherKey: string

// What the log shows: the runner hides masked values and never prints its ::add-mask:: commands.
const shown = (stdout: string): string =>
  stdout
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')

// Text that only the rows hold: found in a plain dump, it must not be found in what is uploaded.
const CUSTOMER_KEY = 'cust-zeta-7781'
const ROW_TEXT = 'plaintext-marker-a1b2c3'
const SEED = `
CREATE TABLE public.customers (code text PRIMARY KEY, note text NOT NULL);
INSERT INTO public.customers VALUES ('${CUSTOMER_KEY}', '${ROW_TEXT}');
INSERT INTO public.customers SELECT 'cust-' || g, md5(g::text) FROM generate_series(1, 2000) g;`

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'private-dump-'))
  services = await startArtifactServices({})
  // The event payload the runner writes for a push to a public repository.
  const event = path.join(scratch, 'event.json')
  fs.writeFileSync(
    event,
    JSON.stringify({ repository: { full_name: 'octo-org/app', private: false, visibility: 'public' } })
  )
  publicRun = { ...services.env, GITHUB_EVENT_PATH: event }
  key = await generateX25519Identity()
  otherKey = await generateX25519Identity()
})
afterAll(async () => {
  await services.close()
  fs.rmSync(scratch, { recursive: true, force: true })
})

describe('a dump made in a public repository', () => {
  const db = uniqueName('public_dump')
  const artifact = `dump-${db}`
  const dumpInputs = (extra: Record<string, string>): Record<string, string> => ({
    mode: 'dump',
    'source-url': testbed.sourceUrl(db),
    'postgres-version': '17',
    'client-download-url': testbed.clientTemplate,
    'artifact-name': artifact,
    // Uncompressed, so the plain dump holds the rows' text and the test below can tell.
    compression: 'none',
    ...extra
  })

  beforeAll(() => testbed.createSourceDatabase(db, SEED))

  test('is not uploaded as it is: the plan blocks, naming both ways out', async () => {
    const run = await runAction(dumpInputs({ 'dump-path': path.join(scratch, 'blocked') }), { env: publicRun })
    expect(run.exitCode).not.toBe(0)
    expect(run.report.databases[0].findings.map((f: { id: string }) => f.id)).toContain('public-artifact')
    const failed = errorLines(run.stdout).at(-1) ?? ''
    expect(failed).toMatch(/the repository is public: anyone signed in to GitHub could download the dump artifact/)
    expect(failed).toMatch(/set artifact-encryption-key to an age key .* or set upload-artifact: false/)
    expect(services.artifacts.some((a) => a.name === artifact)).toBe(false)
    expect(fs.existsSync(path.join(scratch, 'blocked'))).toBe(false)
  })

  test('is uploaded encrypted with the key: no row text in the uploaded bytes, each file a standard age file', async () => {
    const dumpPath = path.join(scratch, 'encrypted')
    const run = await runAction(dumpInputs({ 'dump-path': dumpPath, 'artifact-encryption-key': key }), {
      env: publicRun
    })
    expect(outcome(run)).toEqual(PASSED)
    expect(run.summary).toMatch(/\*\*Artifact:\*\* .*, encrypted with age\)/)
    expect(run.stdout).toContain(`::add-mask::${key}`)
    expect(shown(run.stdout)).not.toContain(key)
    // One database: the dump is the dump-path folder itself.
    const dumpDir = dumpPath
    const plainFiles = fs.readdirSync(dumpDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    const plain = Buffer.concat(plainFiles.map((e) => fs.readFileSync(path.join(e.parentPath, e.name))))
    // The test could fail: the plain dump on the runner holds the row.
    expect(plain.includes(ROW_TEXT)).toBe(true)

    const zip = await services.readBlob(artifact)
    expect(zip.includes(ROW_TEXT)).toBe(false)
    expect(zip.includes(CUSTOMER_KEY)).toBe(false)
    const entries: Map<string, Buffer> = await unzipEntries(zip)
    expect(new Set(entries.keys())).toEqual(
      new Set(plainFiles.map((e) => `${path.relative(dumpDir, path.join(e.parentPath, e.name))}.age`))
    )
    // Anyone with the key opens it without this action; the manifest keeps the plain files' checksums.
    const decrypter = new Decrypter()
    decrypter.addIdentity(key)
    const manifest = JSON.parse(await decrypter.decrypt(entries.get('manifest.json.age') as Buffer, 'text'))
    expect(manifest).toMatchObject({ database: db, files: { 'toc.dat': expect.stringMatching(/^[0-9a-f]{64}$/) } })
    const toc = await decrypter.decrypt(entries.get('toc.dat.age') as Buffer)
    expect(Buffer.from(toc).equals(fs.readFileSync(path.join(dumpDir, 'toc.dat')))).toBe(true)
    expect(fs.existsSync(`${dumpDir}.age`)).toBe(false)
  })

  test('a wrong or missing key is refused in one line, and the target is not touched', async () => {
    const restore = (extra: Record<string, string>) =>
      runAction(
        {
          mode: 'restore',
          'target-url': testbed.targetUrl(`${db}_never`),
          'client-download-url': testbed.clientTemplate,
          'artifact-name': artifact,
          ...extra
        },
        { env: publicRun }
      )
    const wrong = await restore({ 'artifact-encryption-key': otherKey })
    expect(wrong.exitCode).not.toBe(0)
    expect(errorLines(wrong.stdout)).toEqual([
      expect.stringMatching(
        /^::error::the dump in \S+ was encrypted for another age key — set artifact-encryption-key to the age secret key whose public key the dump job encrypted to; nothing was written to the target$/
      )
    ])
    expect(shown(wrong.stdout)).not.toContain(otherKey)
    const missing = await restore({})
    expect(errorLines(missing.stdout)).toEqual([
      expect.stringMatching(/^::error::the dump in \S+ is encrypted and no key was given — set artifact-encryption-key/)
    ])
    const onlyPublic = await restore({ 'artifact-encryption-key': await identityToRecipient(key) })
    expect(errorLines(onlyPublic.stdout)).toEqual([
      expect.stringMatching(/a public age key \(age1…\) cannot decrypt it — set artifact-encryption-key/)
    ])
    const exists = await testbed.query('target', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}_never'`)
    expect(exists.rowCount).toBe(0)
  })

  test('the restore job decrypts it with the key, restores and verifies it against the manifest', async () => {
    const run = await runAction(
      {
        mode: 'restore',
        'target-url': testbed.targetUrl(db),
        'client-download-url': testbed.clientTemplate,
        'artifact-name': artifact,
        'artifact-encryption-key': key
      },
      { env: publicRun }
    )
    expect(outcome(run)).toEqual(PASSED)
    expect(run.report.databases[0].comparison.passed).toBe(true)
    expect(run.stdout).toMatch(/decrypted \d+ files of the dump with the age key/)
    const { rows } = await testbed.query(
      'target',
      db,
      `SELECT note FROM public.customers WHERE code = '${CUSTOMER_KEY}'`
    )
    expect(rows).toEqual([{ note: ROW_TEXT }])
  })

  test("a failed verify's summary and log name the table and the count of differing rows, never their keys", async () => {
    await testbed.query('target', db, `UPDATE public.customers SET note = 'changed' WHERE code = '${CUSTOMER_KEY}'`)
    // A query whose error quotes a row's value, as PostgreSQL's input functions do.
    const leaky = 'SELECT note::int FROM public.customers WHERE length(note) < 10'
    const validate = (env: Record<string, string>) =>
      runAction({ ...testbed.actionInputs(db, db), mode: 'validate', 'validation-queries': leaky }, { env })
    const run = await validate(publicRun)
    expect(run.outputs.result).toBe('failed')
    // The key was found: it is in the JSON report on the runner, and only there.
    expect(run.report.databases[0].differingRows).toEqual({ 'public.customers': [CUSTOMER_KEY] })
    expect(run.summary).toContain('public.customers')
    expect(run.summary).toContain('1 differing row located; their keys are in the JSON report on the runner')
    expect(run.summary).not.toContain(CUSTOMER_KEY)
    expect(errorLines(run.stdout).at(-1)).toMatch(/the JSON report on the runner holds their keys$/)
    expect(run.stdout).not.toContain(CUSTOMER_KEY)
    // A failed validation query's data error drops the value it failed on everywhere, the report too.
    expect(run.summary).toContain('invalid input syntax for type integer')
    expect(JSON.stringify(run.report) + run.summary + run.stdout).not.toMatch(/\bchanged\b/)
    // Elsewhere as before: a private repository's summary lists the key.
    const event = path.join(scratch, 'private-event.json')
    fs.writeFileSync(event, JSON.stringify({ repository: { private: true, visibility: 'private' } }))
    const privately = await validate({ GITHUB_EVENT_PATH: event })
    expect(privately.summary).toContain(`differing keys: ${CUSTOMER_KEY}`)
    expect(privately.summary).toContain('invalid input syntax for type integer')
  })
})

describe('a streamed copy in a public repository', () => {
  const db = uniqueName('public_stream')
  const target = `${db}_copy`
  // An array's hash needs its text form: customers is hashed in flight and its differing row located from there.
  beforeAll(() =>
    testbed.createSourceDatabase(db, `${SEED} ALTER TABLE public.customers ADD tags text[] DEFAULT '{a,b}';`)
  )

  /**
   * The client programs, with one row changed on the target once every streamed row is in: before
   * the rest of the restore (the first list that holds a constraint) starts, as a fault would.
   */
  const changingARow = (scope: RunScope): ToolRunner => {
    const real = new ProcessRunner(scope)
    let changed = false
    return {
      async run(program, args, run) {
        const list = args.find((arg) => arg.startsWith('--use-list='))?.slice('--use-list='.length)
        if (!changed && list && / CONSTRAINT /.test(fs.readFileSync(list, 'utf8'))) {
          changed = true
          await testbed.query(
            'target',
            target,
            `UPDATE public.customers SET note = 'changed' WHERE code = '${CUSTOMER_KEY}'`
          )
        }
        return real.run(program, args, run)
      }
    }
  }

  test("a failed verify's summary and log count the streamed table's differing rows, never their keys", async () => {
    const run = await runInProcess(
      {
        'source-url': testbed.sourceUrl(db),
        'target-url': testbed.targetUrl(target),
        'copy-method': 'stream',
        'upload-artifact': 'false'
      },
      { env: { ...publicRun, PGBIN: testbed.clientBinDir }, tools: changingARow }
    )
    expect(run.report.result).toBe('failed')
    const database = run.report.databases[0]
    expect(database.stream?.hashedInFlight).toBe(1)
    expect(database.comparison?.differences.filter((d) => !d.expected).map((d) => [d.kind, d.object])).toEqual([
      ['checksum', 'public.customers']
    ])
    // The key was found: it is in the JSON report on the runner, and only there.
    expect(database.differingRows).toEqual({ 'public.customers': [CUSTOMER_KEY] })
    expect(run.summary).toContain('1 differing row located; their keys are in the JSON report on the runner')
    const shownAnywhere = [run.summary, run.failed ?? '', ...run.lines].join('\n')
    expect(shownAnywhere).toContain('public.customers')
    expect(shownAnywhere).not.toContain(CUSTOMER_KEY)
    expect(shownAnywhere).not.toMatch(/\bchanged\b/)
  })
})

describe('a migrate in a public repository', () => {
  const db = uniqueName('public_migrate')
  beforeAll(() => testbed.createSourceDatabase(db, SEED))

  test('is blocked before the target is touched while it would upload a plain dump; upload-artifact: false passes', async () => {
    const blocked = await runAction(testbed.actionInputs(db, db), { env: publicRun })
    expect(blocked.exitCode).not.toBe(0)
    expect(blocked.report.databases[0].findings.map((f: { id: string }) => f.id)).toEqual(['public-artifact'])
    const exists = await testbed.query('target', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}'`)
    expect(exists.rowCount).toBe(0)
    // The plan on its own says the same before any run, and follows the same way out.
    const planned = await runAction(testbed.actionInputs(db, db, { mode: 'plan' }), { env: publicRun })
    expect(planned.exitCode).not.toBe(0)
    expect(planned.report.databases[0].findings.map((f: { id: string }) => f.id)).toEqual(['public-artifact'])
    const plannedKept = testbed.actionInputs(db, db, { mode: 'plan', 'upload-artifact': 'false' })
    expect((await runAction(plannedKept, { env: publicRun })).exitCode).toBe(0)

    const kept = await runAction(testbed.actionInputs(db, db, { 'upload-artifact': 'false' }), { env: publicRun })
    expect(outcome(kept)).toEqual(PASSED)
    expect(kept.report.artifact).toBeUndefined()
  })
})
