// What a run in this process does on the runner, recorded: the paths its code writes, makes or
// removes, the files it names to the client programs, and its log as the runner on GitHub prints it.
import * as core from '@actions/core'
import fs from 'node:fs'
import path from 'node:path'
import { githubRunner } from '../../src/action/runner.js'
import type { RunScope } from '../../src/base/scope.js'
import { ProcessRunner, type ToolRunner } from '../../src/tools/run-tool.js'

/** Every path the action's code writes, makes or removes on the runner, and every --file= or --use-list= it gives a client program. */
export const touched: { op: string; file: string }[] = []
export const realFs = {
  writeFileSync: fs.writeFileSync,
  mkdirSync: fs.mkdirSync,
  mkdtempSync: fs.mkdtempSync,
  createWriteStream: fs.createWriteStream,
  rmSync: fs.rmSync
}
/** Starts recording (see touched); `stopRecordingWrites` puts fs back. */
export function recordWrites(): void {
  const recording =
    <A extends unknown[], R>(op: string, real: (...args: A) => R) =>
    (...args: A): R => {
      touched.push({ op, file: path.resolve(String(args[0])) })
      return real(...args)
    }
  Object.assign(fs, {
    writeFileSync: recording('write', realFs.writeFileSync),
    mkdirSync: recording('mkdir', realFs.mkdirSync),
    mkdtempSync: recording('mkdtemp', realFs.mkdtempSync),
    createWriteStream: recording('write', realFs.createWriteStream),
    rmSync: recording('rm', realFs.rmSync)
  })
}

export function stopRecordingWrites(): void {
  Object.assign(fs, realFs)
}

/** The client programs, their output files recorded in touched. */
export const recordingTools = (scope: RunScope): ToolRunner => {
  const real = new ProcessRunner(scope)
  return {
    run(program, args, run) {
      for (const arg of args) {
        const file = /^--(?:file|use-list)=(.+)$/.exec(arg)?.[1]
        if (file) touched.push({ op: path.basename(program), file: path.resolve(file) })
      }
      return real.run(program, args, run)
    }
  }
}

/**
 * Lines the runner on GitHub would read as a command forged by a name of test/support/hostile.ts
 * (`::error::forged`, `::x`), once the run's lines are printed as githubRunner prints them.
 */
export function forgedCommands(lines: string[]): string[] {
  const printed: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0) as typeof write
  try {
    const { log } = githubRunner()
    for (const line of lines) {
      const [, command, message] = /^(?:::(debug|warning|error|group|endgroup)::)?([\s\S]*)$/.exec(line) ?? []
      if (command === 'group') core.startGroup(message)
      else if (command === 'endgroup') core.endGroup()
      else log[(command ?? 'info') as 'debug' | 'info' | 'warning' | 'error'](message)
    }
  } finally {
    process.stdout.write = write
  }
  return printed
    .join('')
    .split(/\r?\n|\r/)
    .filter((line) => /^\s*(::|##\[)error(::|\])forged|^\s*::x/.test(line))
}
