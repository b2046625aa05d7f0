// What a workflow step shows, for a terminal: the log without workflow commands (debug lines only
// when asked), and the job summary's Markdown as plain text with aligned tables.

/**
 * One line of the action's stdout as the runner would show it; undefined to hide it.
 * @param {string} line @param {{ debug: boolean }} options
 */
export function logLine(line, { debug }) {
  if (/^::(add-mask|endgroup|add-path)::/.test(line)) return undefined
  if (line.startsWith('::debug::')) return debug ? `  ${line.slice(9)}` : undefined
  if (line.startsWith('::group::')) return `▸ ${line.slice(9)}`
  if (line.startsWith('::warning::')) return `warning: ${line.slice(11)}`
  if (line.startsWith('::error::')) return `error: ${line.slice(9)}`
  return line
}

/** @param {string} text */
function plain(text) {
  return text
    .replace(/<\/?(details|summary)>/g, '')
    .replace(/\*\*(.+?)\*\*/g, '$1')
    .replace(/\\([\\`*_[\]~|])/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** @param {string[]} rows a GFM table's lines */
function table(rows) {
  const cells = rows
    .filter((row) => !/^\|(\s*---\s*\|)+$/.test(row))
    .map((row) =>
      row
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => plain(cell.trim()))
    )
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)))
  const line = (/** @type {string[]} */ row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(cells[0]), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)]
}

/** The job summary as text. @param {string} markdown */
export function summaryText(markdown) {
  const out = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.startsWith('|')) {
      const rows = []
      while (i < lines.length && lines[i].startsWith('|')) rows.push(lines[i++])
      i--
      out.push(...table(rows).map((row) => `  ${row}`))
    } else if (/^#{2,3} /.test(line)) {
      const title = plain(line.replace(/^#+ /, ''))
      out.push(title, (line.startsWith('## ') ? '═' : '─').repeat(title.length))
    } else if (line.startsWith('<details><summary>')) {
      out.push(`${plain(line)}:`)
    } else if (line !== '</details>') {
      out.push(plain(line))
    }
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n')
}
