import { compressionArgument, compressionFor } from '../../src/tools/pg-dump.js'

const GB = 1024 ** 3

test('auto leaves a dump uncompressed when it is not uploaded and the disk holds it three times over', () => {
  expect(compressionFor('auto', false, 30 * GB, 10 * GB)).toEqual({
    compression: 'none',
    why: 'the dump is not uploaded, and 30.0 GiB free holds it uncompressed'
  })
  expect(compressionArgument(compressionFor('auto', false, 30 * GB, 10 * GB).compression, 17)).toBe('0')
})

test('auto compresses a dump that is uploaded, or that the disk might not hold uncompressed', () => {
  expect(compressionFor('auto', true, 100 * GB, 1 * GB).compression).toBe('auto')
  expect(compressionFor('auto', false, 29 * GB, 10 * GB)).toEqual({
    compression: 'auto',
    why: '29.0 GiB free would not surely hold the dump uncompressed (up to 30.0 GiB)'
  })
  expect(compressionFor('auto', false, undefined, 1).compression).toBe('auto')
  expect(compressionArgument('auto', 17)).toBe('zstd:1')
})

test('a compression asked for is kept', () => {
  for (const requested of ['zstd', 'gzip', 'none', 'lz4'] as const) {
    expect(compressionFor(requested, false, 100 * GB, 1).compression).toBe(requested)
  }
})
