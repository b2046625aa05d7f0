import { hintFor } from '../../src/action/hints.js'
import type { MigrationError } from '../../src/base/errors.js'
import {
  CLIENT_RELEASES,
  chooseClient,
  downloadUrl,
  majorOf,
  platformTarget
} from '../../src/tools/client/version-policy.js'

describe('chooseClient', () => {
  test.each([
    [14, 17, undefined, 17, CLIENT_RELEASES[17]],
    [14, 14, undefined, 14, CLIENT_RELEASES[14]],
    [13, 16, undefined, 16, CLIENT_RELEASES[16]],
    [14, undefined, undefined, 14, CLIENT_RELEASES[14]],
    [14, 17, '18', 18, CLIENT_RELEASES[18]],
    [14, 17, '17.9.0', 17, '17.9.0'],
    [14, 17, '17.9', 17, '17.9.0'],
    [14, undefined, '16', 16, CLIENT_RELEASES[16]]
  ])('source %s, target %s, override %s → %s (%s)', (source, target, override, major, release) => {
    expect(chooseClient(source, target, override)).toMatchObject({ major, release })
  })

  test('a target older than the source is refused as a downgrade', () => {
    expect(() => chooseClient(17, 14)).toThrow("the target runs PostgreSQL 14, older than the source's 17: a downgrade")
  })

  /** The line the run fails with: the message, then the fix in the user's terms. */
  const refusal = (work: () => unknown): string => {
    try {
      work()
    } catch (error) {
      return `${(error as MigrationError).message} — ${hintFor(error as MigrationError)}`
    }
    throw new Error('not refused')
  }

  test('postgres-version below the source major is refused, naming the input', () => {
    expect(refusal(() => chooseClient(14, 17, '13'))).toBe(
      "the requested client version 13 is older than the source's major 14 — set postgres-version to 17 or newer: pg_dump must be at least the source's major"
    )
  })

  test('postgres-version below the target major is refused', () => {
    expect(refusal(() => chooseClient(14, 17, '16'))).toBe(
      "the requested client version 16 is older than the target's major 17 — set postgres-version to 17 or newer: restore with the target's tools"
    )
  })

  test('an unknown major without a full release is refused with a hint', () => {
    expect(() => chooseClient(14, 99)).toThrow('no known client release for PostgreSQL 99')
  })
})

test('majorOf reads server_version_num', () => {
  expect(majorOf(140023)).toBe(14)
  expect(majorOf(170010)).toBe(17)
})

test('downloadUrl fills every placeholder', () => {
  const template = 'https://example.test/{version}/postgresql-{version}-{target}.tar.gz?m={major}'
  expect(downloadUrl(template, { major: 17, release: '17.11.0', reason: '' }, 'x86_64-unknown-linux-gnu')).toBe(
    'https://example.test/17.11.0/postgresql-17.11.0-x86_64-unknown-linux-gnu.tar.gz?m=17'
  )
})

test('platformTarget maps runners to download targets', () => {
  expect(platformTarget('linux', 'x64')).toBe('x86_64-unknown-linux-gnu')
  expect(platformTarget('darwin', 'arm64')).toBe('aarch64-apple-darwin')
  expect(() => platformTarget('aix', 'ppc64')).toThrow('no PostgreSQL client download for aix/ppc64')
})
