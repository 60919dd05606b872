// One app process of the stampede benchmark: `calls` concurrent reads of one cold key through
// `library`; the loader takes 50 ms and counts its runs in Redis.
import { setTimeout as delay } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { contender, type Library } from './cache-contenders.js'

const [library, redisUrl, namespace, calls] = process.argv.slice(2) as [
  Library,
  string,
  string,
  string,
]
const counter = new Redis(redisUrl)
const cache = await contender(library, 'tiered', redisUrl, namespace)
const loader = async () => {
  await counter.incr(`${namespace}:loads`)
  await delay(50)
  return { loaded: true }
}
process.stdout.write('ready\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
await Promise.all(Array.from({ length: Number(calls) }, () => cache.getOrLoad('cold', loader)))
process.stdout.write('done\n')
await cache.close()
counter.disconnect()
process.exit(0)
