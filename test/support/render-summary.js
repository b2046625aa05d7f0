// Renders a job summary the way GitHub shows it: mermaid-cli draws every ```mermaid block to SVG in
// Debian's chromium (a chart that does not parse fails it), cmark-gfm turns the markdown into HTML
// with the charts in place, and the page is photographed whole. Used by the summary's render test.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import puppeteer from 'puppeteer'
import { REPO_ROOT } from './servers.js'

/** mermaid-cli's browser: Debian's chromium, no sandbox for root (CI runs as root). */
export const PUPPETEER_CONFIG = path.join(REPO_ROOT, 'test', 'support', 'puppeteer.json')
const MMDC = path.join(REPO_ROOT, 'node_modules', '.bin', 'mmdc')

/** A little of GitHub's look, so the picture reads like the job summary page. */
const STYLE = `body { font: 14px -apple-system, "Segoe UI", "Liberation Sans", sans-serif; max-width: 980px; margin: 24px; color: #1f2328 }
table { border-collapse: collapse; margin: 8px 0 } th, td { border: 1px solid #d1d9e0; padding: 4px 10px }
img { max-width: 100%; display: block; margin: 12px 0 } code { background: #eff1f3; padding: 1px 4px }`

/**
 * @param {string} markdown the summary
 * @param {string} dir an empty folder for the rendered files
 * @returns {Promise<{ charts: string[], html: string, screenshot: string }>} the SVG files, the page, its picture
 */
export async function renderSummary(markdown, dir) {
  fs.writeFileSync(path.join(dir, 'summary.md'), markdown)
  // Exits non-zero when a chart does not parse; the markdown it writes points at one SVG per chart.
  execFileSync(MMDC, ['-q', '-p', PUPPETEER_CONFIG, '-i', 'summary.md', '-o', 'rendered.md'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const rendered = fs.readFileSync(path.join(dir, 'rendered.md'), 'utf8')
  const charts = [...rendered.matchAll(/!\[diagram\]\(\.\/([^)]+\.svg)\)/g)].map((match) => path.join(dir, match[1]))
  const body = execFileSync('cmark-gfm', ['--unsafe', '-e', 'table', '-e', 'autolink', '-e', 'strikethrough'], {
    input: rendered,
    encoding: 'utf8'
  })
  const html = path.join(dir, 'summary.html')
  fs.writeFileSync(html, `<!doctype html><meta charset="utf-8"><style>${STYLE}</style>\n${body}`)
  const screenshot = path.join(dir, 'summary.png')
  const config = JSON.parse(fs.readFileSync(PUPPETEER_CONFIG, 'utf8'))
  const browser = await puppeteer.launch({ ...config, headless: true })
  try {
    const page = await browser.newPage()
    await page.setViewport({ width: 1040, height: 800 })
    await page.goto(`file://${html}`, { waitUntil: 'load' })
    await page.screenshot({ path: screenshot, fullPage: true })
  } finally {
    await browser.close()
  }
  return { charts, html, screenshot }
}
