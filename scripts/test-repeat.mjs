#!/usr/bin/env node
// Runs one vitest file n times, optionally with every core kept busy, and prints pass counts
// per vitest project. Usage: pnpm test:repeat <file> <n> [--load] [--project <name>]...
import { spawn, spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    load: { type: 'boolean', default: false },
    project: { type: 'string', multiple: true },
  },
})
const [file, times] = positionals
const runs = Number(times)
if (!file || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: pnpm test:repeat <file> <n> [--load] [--project <name>]...')
  process.exit(2)
}
const path = relative(process.cwd(), resolve(process.env.INIT_CWD ?? process.cwd(), file))
const pkg = /^packages\/([^/]+)\//.exec(path)?.[1]
if (!pkg && !values.project) {
  console.error(`${path} is not under packages/<name>/: name the vitest projects with --project`)
  process.exit(2)
}
const projects = values.project ?? [`${pkg}:pg15`, `${pkg}:pg18`]

// Busy loops on every core, like other test suites sharing the machine.
const load = values.load
  ? Array.from({ length: availableParallelism() }, () =>
      spawn('yes', { stdio: ['ignore', 'ignore', 'ignore'] }),
    )
  : []
const stopLoad = () => {
  for (const child of load) child.kill('SIGKILL')
}
process.on('exit', stopLoad)
process.on('SIGINT', () => process.exit(130))

const passes = Object.fromEntries(projects.map((project) => [project, 0]))
for (let run = 1; run <= runs; run++) {
  for (const project of projects) {
    const started = Date.now()
    const result = spawnSync('pnpm', ['vitest', 'run', '--project', project, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    })
    const passed = result.status === 0
    if (passed) passes[project] += 1
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    console.log(`run ${run}/${runs} ${project}: ${passed ? 'pass' : 'FAIL'} (${seconds} s)`)
    if (!passed) console.log(`${result.stdout}${result.stderr}`.split('\n').slice(-60).join('\n'))
  }
}
stopLoad()
const summary = projects.map((project) => `${project} ${passes[project]}/${runs}`).join(', ')
console.log(`${path}${values.load ? ' (under load)' : ''}: ${summary}`)
process.exit(Object.values(passes).every((count) => count === runs) ? 0 : 1)
