// A maintenance runner in a process of its own, for tests that kill it (SIGKILL) mid-run or
// run several at once: it opens the database of the environment it is given (argv[2], JSON)
// and runs the conservation workload's maintenance with the options of argv[3] (JSON: its
// `leaseMs`; `gated`: report `ready` and wait for `go` first, so several start together);
// its result goes to the parent over IPC.
import { once } from 'node:events'
import { openDatabase } from '../open-database.js'
import { KILLED_LEASE_MS, maintainPosts } from '../workloads/posts.js'
import type { ChildOptions, ChildResult } from './maintenance-process.js'

const database = openDatabase(JSON.parse(process.argv[2] ?? '{}'))
const { leaseMs = KILLED_LEASE_MS, gated = false }: ChildOptions = JSON.parse(
  process.argv[3] ?? '{}',
)
if (gated) {
  await database.health() // connected: the run starts as soon as `go` comes
  process.send?.('ready')
  await once(process, 'message')
}
const result = await maintainPosts(database.db, { leaseMs })
process.send?.({
  status: result.status,
  created: result.created,
  skipped: result.skipped.length,
  errors: result.errors.map(({ error }) => String((error as Error)?.message ?? error)),
} satisfies ChildResult)
await database.close()
