// Shared by check-packaging.mjs and check-peers.mjs: packs every package as it would be
// published and installs the tarballs with npm into a fresh consumer project.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const root = resolve(import.meta.dirname, '..', '..')

/** Runs a command with its output shown; throws when it fails. */
export function run(command, args, cwd = root, env = {}) {
  execFileSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', ...env },
  })
}

/** The packages in the order they build: each compiles against the ones before it. */
const PACK_ORDER = ['core', 'router', 'cache', 'partitions', 'observability', 'testing']

/**
 * Packs every package into `work/packs` and installs the tarballs, with the peers at their
 * newest allowed versions, in `work/consumer` (its `src/main.ts` is scripts/packaging/consumer.ts).
 */
export function prepareConsumer(work) {
  const packs = join(work, 'packs')
  const consumer = join(work, 'consumer')
  // One at a time, in dependency order: each prepack cleans and rebuilds its dist/, which the
  // packages after it compile against. The order is written out: dev dependencies and
  // optional peers (testing <-> cache, observability) make cycles that pnpm's own ordering of
  // `-r` breaks arbitrarily.
  const present = readdirSync(join(root, 'packages')).sort()
  const missing = present.filter((name) => !PACK_ORDER.includes(name))
  if (missing.length > 0) throw new Error(`PACK_ORDER does not list packages/${missing.join(', ')}`)
  for (const name of PACK_ORDER) {
    run('pnpm', ['pack', '--pack-destination', packs], join(root, 'packages', name))
  }
  const tarballs = readdirSync(packs).filter((file) => file.endsWith('.tgz'))
  mkdirSync(join(consumer, 'src'), { recursive: true })
  const dependencies = Object.fromEntries(
    tarballs.map((tarball) => [
      `@sluice/${tarball.replace(/^sluice-/, '').replace(/-\d+\.\d+\.\d+\.tgz$/, '')}`,
      `file:${join(packs, tarball)}`,
    ]),
  )
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({
      name: 'sluice-consumer',
      private: true,
      type: 'module',
      dependencies: {
        ...dependencies,
        '@opentelemetry/api': '^1.9.0',
        ioredis: '^5.4.0',
        kysely: '^0.28.0',
        pg: '^8.21.0',
        'prom-client': '^15.1.0',
      },
      devDependencies: { '@types/node': '^20.19.0', typescript: '5.9.3' },
    }),
  )
  cpSync(join(root, 'scripts', 'packaging', 'consumer.ts'), join(consumer, 'src', 'main.ts'))
  // The strictest settings consumers use: exactOptionalPropertyTypes rejects an `undefined`
  // where an option is only optional.
  const strict = {
    strict: true,
    exactOptionalPropertyTypes: true,
    target: 'ES2022',
    skipLibCheck: false,
    types: ['node'],
  }
  for (const [name, options] of [
    ['nodenext', { module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'dist' }],
    ['bundler', { module: 'ESNext', moduleResolution: 'bundler', noEmit: true }],
  ]) {
    writeFileSync(
      join(consumer, `tsconfig.${name}.json`),
      JSON.stringify({ compilerOptions: { ...strict, ...options }, include: ['src'] }),
    )
  }
  run('npm', ['install', '--prefer-offline', '--loglevel', 'error'], consumer)
  return { packs, tarballs, consumer }
}
