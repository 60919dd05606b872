// A maintenance runner in a process of its own, for tests that kill it (SIGKILL) mid-run:
// it opens the database of the environment it is given (argv[2], JSON) and runs the
// conservation workload's maintenance; its result goes to the parent over IPC.
import { openDatabase } from '../open-database.js'
import { KILLED_LEASE_MS, maintainPosts } from '../workloads/posts.js'

const database = openDatabase(JSON.parse(process.argv[2] ?? '{}'))
const result = await maintainPosts(database.db, { leaseMs: KILLED_LEASE_MS })
process.send?.({ status: result.status, errors: result.errors.length })
await database.close()
