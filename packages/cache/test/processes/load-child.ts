// A separate app process for the multi-process tests: issues `calls` concurrent getOrLoad of
// one cold key on a shared Redis, then prints what it got. The loader records each run in
// Redis (so the count is what the server saw), then waits for the parent's `release` key, or
// hangs forever when `hang` is set (a lock holder to kill).
import { setTimeout as delay } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createCache } from '../../src/index.js'

export interface ChildArgs {
  readonly redisUrl: string
  readonly namespace: string
  readonly calls: number
  readonly lockTimeoutMs: number
  readonly hang: boolean
}

export interface ChildResult {
  readonly values: number
  readonly wrong: number
  readonly failed: number
  /** Store errors the cache absorbed (a Redis call that failed or timed out). */
  readonly storeErrors: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs
const redis = new Redis(args.redisUrl)
let storeErrors = 0
const cache = createCache({
  redis,
  namespace: args.namespace,
  lockTimeoutMs: args.lockTimeoutMs,
  // A holder that hangs stays mid-load until it is killed, however long the test takes to
  // start the others on a loaded machine (with the default, it would give up after 10 s,
  // release the lock and exit by itself).
  ...(args.hang && { loadTimeoutMs: '1h' }),
  // These tests are about locks: a 2-core machine running the whole suite must not turn a
  // slow Redis answer into a "Redis down" miss.
  storeTimeoutMs: 5000,
  instrumentation: { onCache: (event) => void (event.kind === 'error' && storeErrors++) },
})
const control = (name: string) => `${args.namespace}:test:${name}`

const loader = async () => {
  await redis.rpush(control('loads'), `${process.pid} ${Date.now()}`)
  if (args.hang) await new Promise(() => {})
  while ((await redis.get(control('release'))) === null) await delay(5)
  return 'loaded'
}

const calls = Array.from({ length: args.calls }, () => cache.getOrLoad('cold', loader))
process.stdout.write('issued\n')
const outcomes = await Promise.allSettled(calls)
const result: ChildResult = {
  values: outcomes.filter((o) => o.status === 'fulfilled').length,
  wrong: outcomes.filter((o) => o.status === 'fulfilled' && o.value !== 'loaded').length,
  failed: outcomes.filter((o) => o.status === 'rejected').length,
  storeErrors,
}
process.stdout.write(`${JSON.stringify(result)}\n`)
await cache.close()
redis.disconnect()
