// The job summary's markdown: GitHub Flavored Markdown built from text that came from databases
// and errors, escaped so none of it is taken for markup.

export function details(title: string, body: string): string {
  return `<details><summary>${html(title)}</summary>\n\n${body}\n\n</details>`
}

/** A GFM table; every cell is text, never markup. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map((cell) => cellText(cell) || '—').join(' | ')} |`
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n')
}

function cellText(text: string): string {
  return inline(text).replace(/\|/g, '\\|')
}

/**
 * Text from databases and errors, on one line, with nothing a renderer would take for markup. Only
 * what could start or end markup is escaped, so names stay readable in the raw text: `SELECT * FROM`
 * keeps its lone star and `order_lines` its inner underscore.
 */
export function inline(text: string): string {
  return html(text.replace(/\s*[\r\n]\s*/g, ' '))
    .replace(/[\\`[\]~]/g, '\\$&')
    .replace(/\*(?=\S)|(?<=\S)\*/g, '\\*')
    .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_')
}

export function html(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string)
}

export function abbreviate(items: string[], limit = 10): string {
  return items.length <= limit
    ? items.join(', ')
    : `${items.slice(0, limit).join(', ')} and ${items.length - limit} more`
}
