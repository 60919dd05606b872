#!/usr/bin/env node
// The peer-range matrix on its own (`pnpm check:peers`): packs the packages, installs them in a
// fresh consumer project and runs scripts/packaging/peer-legs.mjs there. `pnpm test` runs the
// same legs inside check:packaging, which packs only once.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareConsumer } from './packaging/consumer-project.mjs'
import { checkPeerLegs } from './packaging/peer-legs.mjs'

const started = performance.now()
const work = mkdtempSync(join(tmpdir(), 'sluice-peers-'))
try {
  checkPeerLegs(prepareConsumer(work).consumer)
  console.log(`check-peers: passed in ${((performance.now() - started) / 1000).toFixed(1)} s`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
