import { safeFileName } from '../../src/base/files.js'
import { escapeWorkflowCommands } from '../../src/base/log.js'

describe('safeFileName: a database name as one path segment', () => {
  test.each([
    ['app', 'app'],
    ['my_db-2.0', 'my_db-2.0'],
    ['x/../../../tmp/escape', 'x%2F..%2F..%2F..%2Ftmp%2Fescape'],
    ['..', '%2E.'],
    ['.hidden', '%2Ehidden'],
    ['a\\b:c', 'a%5Cb%3Ac'],
    ['50%', '50%25'],
    ['straße', 'stra%C3%9Fe'],
    ['', '%']
  ])('%j → %j', (name, file) => {
    expect(safeFileName(name)).toBe(file)
  })

  test('two names never share a file name', () => {
    const names = ['a/b', 'a%2Fb', 'a_b', '.a', '%2Ea']
    expect(new Set(names.map(safeFileName)).size).toBe(names.length)
  })
})

describe('escapeWorkflowCommands: an info line the runner cannot take for a command', () => {
  test.each([
    ['tables fingerprinted: 1/1 (public."big\n::error::x")', 'tables fingerprinted: 1/1 (public."big%0A::error::x")'],
    ['::add-mask::x', '%3A:add-mask::x'],
    ['  ::stop-commands::token', '  %3A:stop-commands::token'],
    ['##[error]x', '%23#[error]x'],
    ['a\r::error::b', 'a%0D::error::b'],
    ['100% done', '100%25 done'],
    ['SELECT x::text', 'SELECT x::text']
  ])('%j → %j', (message, line) => {
    expect(escapeWorkflowCommands(message)).toBe(line)
  })
})
