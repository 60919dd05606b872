// A separate app process whose clock is `skewMs` off the machine's (Date.now, only in this
// process): one member of a namespace's invalidation bus, as an instance with L1 runs it. It
// prints `ready` once it holds its lease, then confirms invalidations until killed.
import { Redis } from 'ioredis'
import { InvalidationBus } from '../../src/invalidation-bus.js'

export interface SkewedMemberArgs {
  readonly redisUrl: string
  readonly namespace: string
  readonly busLeaseMs: number
  readonly skewMs: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as SkewedMemberArgs
const machineNow = Date.now
Date.now = () => machineNow() + args.skewMs

const fail = (error: unknown) => process.stderr.write(`skewed member: ${String(error)}\n`)
const bus = new InvalidationBus(
  new Redis(args.redisUrl),
  args.namespace,
  { leaseMs: args.busLeaseMs, member: true },
  { onInvalidation: () => {}, onMissedMessages: () => {}, onError: fail },
)
await bus.ready()
process.stdout.write('ready\n')
