import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// dist/ is what a runner executes: it must be the bundle of the current src/.
test('dist/index.js equals a fresh npm run package', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-check-'))
  try {
    execFileSync('npx', ['ncc', 'build', 'src/index.ts', '-o', out, '--source-map', '--license', 'licenses.txt'], {
      stdio: 'pipe'
    })
    for (const file of ['index.js', 'licenses.txt']) {
      const fresh = fs.readFileSync(path.join(out, file), 'utf8')
      const committed = fs.readFileSync(path.join('dist', file), 'utf8')
      expect({ file, same: committed === fresh }).toEqual({ file, same: true })
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true })
  }
}, 120000)
