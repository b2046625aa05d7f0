import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// dist/ is what a runner executes: it must be the bundle of the current src/, built as `npm run package` builds it.
test('dist/ equals a fresh npm run package', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-check-'))
  try {
    const script = JSON.parse(fs.readFileSync('package.json', 'utf8')).scripts.package as string
    const args = script.replace(/^ncc /, '').replace('-o dist', `-o ${out}`).split(' ')
    execFileSync('npx', ['ncc', ...args], { stdio: 'pipe' })
    // The entry, the chunks it loads on demand, and the licenses; source maps follow from them.
    const bundled = (dir: string): string[] =>
      fs
        .readdirSync(dir)
        .filter((file) => file.endsWith('.js') || file === 'licenses.txt')
        .sort()
    expect(bundled('dist')).toEqual(bundled(out))
    for (const file of bundled(out)) {
      const same = fs.readFileSync(path.join(out, file), 'utf8') === fs.readFileSync(path.join('dist', file), 'utf8')
      expect({ file, same }).toEqual({ file, same: true })
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true })
  }
}, 120000)
