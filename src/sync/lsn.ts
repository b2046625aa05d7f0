/** A WAL position as PostgreSQL prints it (`16/B374D848`), as a number that compares. */
export function parseLsn(text: string): bigint {
  const [high, low] = text.split('/')
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`)
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/**
 * The insert position the source reports right after a page boundary points past the new page's
 * header (24 bytes, 40 at the start of a segment), where no record can end: a decoder that has read
 * everything stops at the boundary. Both positions mean the same moment.
 */
export function recordBoundary(lsn: bigint): bigint {
  const inPage = lsn % 8192n
  return inPage === 24n || inPage === 40n ? lsn - inPage : lsn
}
