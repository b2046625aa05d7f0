/** A number as people read it: 47,303, not 47303. */
export function thousands(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 })
}

/** `1 large object`, `2 large objects`, `12,000 rows`. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${thousands(n)} ${n === 1 ? singular : plural}`
}
