// Loader runs for 1,000 concurrent cold reads of one key spread over 4 processes sharing one
// Redis, for each library (both tiers). Target: Sluice runs the loader once.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startRedis } from '@sluice/testing'
import { Redis } from 'ioredis'
import { LIBRARIES, type Library } from './cache-contenders.js'

const PROCESSES = 4
const CALLS = 1000
const CHILD = fileURLToPath(new URL('./cache-stampede-child.js', import.meta.url))

async function loaderRuns(library: Library, redisUrl: string): Promise<number> {
  const namespace = `stampede-${library}`
  const children = Array.from({ length: PROCESSES }, () =>
    spawn(process.execPath, [CHILD, library, redisUrl, namespace, String(CALLS / PROCESSES)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  )
  const exited = children.map((child) => once(child, 'exit'))
  const lines = children.map((child) =>
    createInterface({ input: child.stdout })[Symbol.asyncIterator](),
  )
  await Promise.all(lines.map((line) => line.next())) // every process is ready
  for (const child of children) child.stdin.write('go\n')
  await Promise.all(lines.map((line) => line.next())) // every call has its value
  await Promise.all(exited)
  const redis = new Redis(redisUrl)
  const runs = Number(await redis.get(`${namespace}:loads`))
  redis.disconnect()
  return runs
}

const redis = await startRedis()
try {
  console.log(`cache stampede: ${CALLS} concurrent cold reads over ${PROCESSES} processes`)
  for (const library of LIBRARIES) {
    console.log(`${library.padEnd(24)} ${await loaderRuns(library, redis.url)} loader runs`)
  }
} finally {
  await redis.stop()
}
