// A separate app process whose clock is `skewMs` off the machine's (Date.now, what the cache
// reads; only in this process): an instance with L1, so a member of the namespace's bus. It
// prints `ready`, then for each line on stdin reads key `profile` (the loader returns what
// Redis holds at `<namespace>:test:row`) and prints what it got and from where.
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import { createCache } from '../../src/index.js'

export interface SkewedMemberArgs {
  readonly redisUrl: string
  readonly namespace: string
  readonly busLeaseMs: number
  readonly skewMs: number
}

export interface SkewedMemberRead {
  readonly value: string | undefined
  /** `l1`, `l2`, or `load` when the loader ran. */
  readonly from: string
}

const args = JSON.parse(process.argv[2] ?? '{}') as SkewedMemberArgs
const machineNow = Date.now
Date.now = () => machineNow() + args.skewMs

const redis = new Redis(args.redisUrl)
let from = 'load'
const cache = createCache({
  redis,
  namespace: args.namespace,
  busLeaseMs: args.busLeaseMs,
  // A loaded machine's slow Redis answer must not turn a hit into a miss here.
  storeTimeoutMs: 5000,
  instrumentation: {
    onCache: (event) => {
      if (event.kind === 'hit') from = event.tier
    },
  },
})
await cache.ready()
process.stdout.write('ready\n')

for await (const _ of createInterface({ input: process.stdin })) {
  from = 'load'
  const value = await cache.getOrLoad(
    'profile',
    async () => (await redis.get(`${args.namespace}:test:row`)) ?? undefined,
  )
  const read: SkewedMemberRead = { value, from }
  process.stdout.write(`${JSON.stringify(read)}\n`)
}
await cache.close()
redis.disconnect()
