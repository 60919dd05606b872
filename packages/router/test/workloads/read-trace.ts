import { AsyncLocalStorage } from 'node:async_hooks'
import type { RouterInstrumentation } from '../../src/index.js'

/** One traced read: when it ran and what the router did for it. */
interface Trace {
  readonly startedAt: number
  endedAt: number
  /** Routing decisions, pool waits and statements, e.g. `+1203 ms route replica-2 (retry: DEADLINE_EXCEEDED)`. */
  readonly steps: string[]
}

/** The read that took longest once this process's own stalls are taken out. */
export interface LatestRead {
  /** How long the read took. */
  readonly ms: number
  /** How long this process's event loop was blocked while it ran: not the router's time. */
  readonly stalledMs: number
  readonly steps: readonly string[]
}

/** Traces of reads: pass `instrumentation` to the router and run each read in `trace`. */
export interface ReadTraces {
  readonly instrumentation: RouterInstrumentation
  /** Runs `read` as one traced read. */
  trace<T>(read: () => Promise<T>): Promise<T>
  /** Stops sampling and returns the read with the longest time not spent stalled. */
  latest(): LatestRead | undefined
}

const SAMPLE_MS = 10

const codeOf = (error: unknown) =>
  (error as { code?: string } | undefined)?.code ?? (error as Error | undefined)?.message

/**
 * Records, per read, what the router did for it (route events, pool waits, statements: the
 * hooks run in the read's async context), and samples this process's event loop every 10 ms.
 * On a loaded machine the test process itself cannot run for a while (its timers fire late,
 * its sockets are read late): that is no wait of the router's, so it is measured per read and
 * told apart from the waits the steps show (a pooled connection, a statement's deadline, a
 * retry), instead of loosening the bound for every read.
 */
export function readTraces(): ReadTraces {
  const current = new AsyncLocalStorage<Trace>()
  const traces: Trace[] = []
  const step = (text: string) => {
    const trace = current.getStore()
    if (trace) trace.steps.push(`+${Math.round(performance.now() - trace.startedAt)} ms ${text}`)
  }
  // Event-loop blocks, as [end, length]: the loop could not run from end - length to end.
  const blocks: [number, number][] = []
  let last = performance.now()
  const sampler = setInterval(() => {
    const now = performance.now()
    const late = now - last - SAMPLE_MS
    if (late > 1) blocks.push([now, late])
    last = now
  }, SAMPLE_MS)
  sampler.unref()
  const stalledMs = ({ startedAt, endedAt }: Trace) =>
    blocks.reduce((sum, [end, length]) => {
      const overlap = Math.min(end, endedAt) - Math.max(end - length, startedAt)
      return overlap > 0 ? sum + overlap : sum
    }, 0)
  return {
    instrumentation: {
      onRoute: (event) =>
        step(
          `route ${event.target} (${event.reason}${event.error ? `: ${codeOf(event.error)}` : ''})`,
        ),
      onPoolEvent: (event) => {
        if (event.kind === 'acquire' || event.kind === 'acquire-timeout') {
          step(`${event.kind} ${event.target} after ${Math.round(event.waitMs)} ms`)
        }
      },
      onQueryEnd: (event) =>
        step(
          `query ${event.target} ${Math.round(event.durationMs)} ms${event.error ? ` ${codeOf(event.error)}` : ''}`,
        ),
    },
    trace: (read) => {
      const trace: Trace = { startedAt: performance.now(), endedAt: 0, steps: [] }
      traces.push(trace)
      return current.run(trace, async () => {
        try {
          return await read()
        } finally {
          trace.endedAt = performance.now()
        }
      })
    },
    latest: () => {
      clearInterval(sampler)
      let latest: LatestRead | undefined
      for (const trace of traces) {
        const read = {
          ms: trace.endedAt - trace.startedAt,
          stalledMs: stalledMs(trace),
          steps: trace.steps,
        }
        if (!latest || read.ms - read.stalledMs > latest.ms - latest.stalledMs) latest = read
      }
      return latest
    },
  }
}
