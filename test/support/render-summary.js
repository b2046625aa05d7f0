// Renders a job summary the way GitHub shows it: mermaid-cli draws every ```mermaid block to SVG in
// Debian's chromium (a chart that does not parse fails it), cmark-gfm turns the markdown into HTML
// with the charts in place, and the page is photographed whole. Used by the summary's render test.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import puppeteer from 'puppeteer'
import { REPO_ROOT } from './servers.js'

const MMDC = path.join(REPO_ROOT, 'node_modules', '.bin', 'mmdc')

/** The machine's own browser: puppeteer downloads none (.puppeteerrc.json). Debian's chromium, or a runner's Chrome. */
const BROWSERS = ['/usr/bin/chromium', '/usr/bin/google-chrome', '/usr/bin/chromium-browser']

/**
 * mermaid-cli's puppeteer settings, written into `dir`: the browser found, without the sandbox,
 * which root cannot use (CI runs as root) and which only ever opens the test's own pages here.
 * @param {string} dir
 */
function puppeteerConfig(dir) {
  const executablePath = [process.env.PUPPETEER_EXECUTABLE_PATH, ...BROWSERS].find((p) => p && fs.existsSync(p))
  if (!executablePath) throw new Error(`no browser for the render test: install chromium (${BROWSERS.join(', ')})`)
  const config = { executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] }
  const file = path.join(dir, 'puppeteer.json')
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n')
  return { file, config }
}

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
  const puppeteerSettings = puppeteerConfig(dir)
  // Exits non-zero when a chart does not parse; the markdown it writes points at one SVG per chart.
  execFileSync(MMDC, ['-q', '-p', puppeteerSettings.file, '-i', 'summary.md', '-o', 'rendered.md'], {
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
  const browser = await puppeteer.launch({ ...puppeteerSettings.config, headless: true })
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
