#!/usr/bin/env node
// Runs vitest test files n times, optionally with every core kept busy, and prints pass counts
// per file and vitest project. Several files share each vitest run (one global setup, files in
// parallel as usual). Usage: pnpm test:repeat <file>... <n> [--load] [--project <name>]...
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    load: { type: 'boolean', default: false },
    project: { type: 'string', multiple: true },
  },
})
const runs = Number(positionals.at(-1))
const files = positionals
  .slice(0, -1)
  .map((file) => relative(process.cwd(), resolve(process.env.INIT_CWD ?? process.cwd(), file)))
if (files.length === 0 || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: pnpm test:repeat <file>... <n> [--load] [--project <name>]...')
  process.exit(2)
}
const packages = new Set(files.map((file) => /^packages\/([^/]+)\//.exec(file)?.[1]))
if ((packages.size !== 1 || packages.has(undefined)) && !values.project) {
  console.error('files of one package under packages/<name>/, or name the projects with --project')
  process.exit(2)
}
const [pkg] = packages
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

const work = mkdtempSync(join(tmpdir(), 'test-repeat-'))
const passes = new Map(projects.flatMap((p) => files.map((f) => [`${p} ${f}`, 0])))
for (let run = 1; run <= runs; run++) {
  for (const project of projects) {
    const report = join(work, 'report.json')
    rmSync(report, { force: true })
    const started = Date.now()
    const args = ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json']
    const result = spawnSync('pnpm', [...args, `--outputFile.json=${report}`, ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    })
    let results = []
    try {
      results = JSON.parse(readFileSync(report, 'utf8')).testResults
    } catch {
      // No report: the run itself failed (e.g. the global setup); every file counts as failed.
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const outcome = files.map((file) => {
      const found = results.find((r) => r.name === resolve(file))
      const passed = result.status !== null && found?.status === 'passed'
      if (passed) passes.set(`${project} ${file}`, (passes.get(`${project} ${file}`) ?? 0) + 1)
      return `${file.split('/').at(-1)} ${passed ? 'pass' : 'FAIL'}`
    })
    console.log(`run ${run}/${runs} ${project} (${seconds} s): ${outcome.join(', ')}`)
    if (result.status !== 0)
      console.log(`${result.stdout}${result.stderr}`.split('\n').slice(-80).join('\n'))
  }
}
stopLoad()
rmSync(work, { recursive: true, force: true })
for (const file of files) {
  const counts = projects.map((p) => `${p} ${passes.get(`${p} ${file}`)}/${runs}`).join(', ')
  console.log(`${file}${values.load ? ' (under load)' : ''}: ${counts}`)
}
process.exit([...passes.values()].every((count) => count === runs) ? 0 : 1)
