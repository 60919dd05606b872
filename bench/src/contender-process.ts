// A contender in a process of its own: the parent starts the script with its settings in the
// environment; the script builds its client and calls serveRuns; the parent then asks it for
// runs over IPC, one at a time, and stops it at the end.
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { type Operation, type Run, type Runner, run } from './compare.js'

type Request = { readonly operations: number; readonly concurrency: number } | 'stop'

/** A running contender process: its runner, and how to stop it. */
export interface ContenderProcess {
  readonly runner: Runner
  stop(): Promise<void>
}

/** Starts `script` with `env` added to the environment; resolves once its client is ready. */
export async function startContender(
  script: URL,
  env: Readonly<Record<string, string>>,
  concurrency: number,
): Promise<ContenderProcess> {
  const child: ChildProcess = fork(script, { env: { ...process.env, ...env }, stdio: 'inherit' })
  // A contender that dies fails the benchmark instead of leaving it waiting for an answer.
  const died = once(child, 'exit').then(() => {
    throw new Error(`contender ${script.pathname} ${JSON.stringify(env)} exited`)
  })
  died.catch(() => {}) // a rejection nobody waits for (after stop) is expected
  const reply = async () => ((await Promise.race([once(child, 'message'), died])) as [unknown])[0]
  const ready = await reply()
  if (ready !== 'ready') throw new Error(`unexpected message from contender: ${String(ready)}`)
  return {
    runner: async (operations) => {
      const answer = reply()
      child.send({ operations, concurrency } satisfies Request)
      return (await answer) as Run
    },
    stop: async () => {
      const exited = once(child, 'exit')
      child.send('stop' satisfies Request)
      await exited
    },
  }
}

/** In a contender's process: runs `operation` when asked; `close` before exiting. */
export function serveRuns(operation: Operation, close: () => Promise<unknown>): void {
  process.on('message', async (request: Request) => {
    if (request === 'stop') {
      await close()
      process.exit(0)
    }
    process.send?.(await run(operation, request.concurrency, request.operations))
  })
  process.send?.('ready')
}
