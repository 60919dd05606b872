#!/usr/bin/env node
// Packs every package as it would be published, installs the tarballs with npm into a fresh
// project, type-checks a consumer under moduleResolution NodeNext and bundler, runs it against
// real servers, and lints each tarball with publint and @arethetypeswrong/cli. Then, in the same
// project (packed once), the peer-range matrix of scripts/packaging/peer-legs.mjs.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareConsumer, run } from './packaging/consumer-project.mjs'
import { checkPeerLegs } from './packaging/peer-legs.mjs'

const started = performance.now()
const work = mkdtempSync(join(tmpdir(), 'sluice-packaging-'))
try {
  const { packs, tarballs, consumer } = prepareConsumer(work)
  for (const tarball of tarballs) {
    const unpacked = join(work, 'unpacked', tarball)
    mkdirSync(unpacked, { recursive: true })
    run('tar', ['xzf', join(packs, tarball), '-C', unpacked, '--strip-components', '1'])
    run('pnpm', ['exec', 'publint', unpacked, '--pack', 'false', '--strict'])
    run('pnpm', ['exec', 'attw', join(packs, tarball), '--profile', 'esm-only'])
  }
  run('npx', ['tsc', '-p', 'tsconfig.nodenext.json'], consumer)
  run('npx', ['tsc', '-p', 'tsconfig.bundler.json'], consumer)
  run('node', ['dist/main.js'], consumer)
  console.log(
    `check-packaging: packaging passed in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  checkPeerLegs(consumer)
  console.log(
    `check-packaging: packaging and peer ranges passed in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
} finally {
  rmSync(work, { recursive: true, force: true })
}
