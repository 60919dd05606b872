import type { CacheInstrumentation } from '@sluice/cache'
import type { PartitionInstrumentation } from '@sluice/partitions'
import type { RouterInstrumentation } from '@sluice/router'
import { describe, expect, test } from 'vitest'

/** Every hook of every Sluice package, as the packages' own interfaces declare them. */
export type SluiceHooks = RouterInstrumentation & CacheInstrumentation & PartitionInstrumentation

/** Real events, by the hook that receives them (e.g. recorded from the packages' channels). */
export type RecordedEvents = {
  readonly [K in keyof SluiceHooks]-?: ReadonlyArray<Parameters<NonNullable<SluiceHooks[K]>>[0]>
}

/** An implementation under test: its hooks, and a check of what it recorded from them. */
export interface InstrumentationSubject {
  readonly hooks: SluiceHooks
  /** Runs after the events were delivered: assert what the implementation made of them. */
  readonly check?: () => Promise<void> | void
}

/**
 * The behaviour every instrumentation (hook object) must have, as a vitest suite: run it
 * against each implementation, your own included. `events()` gives real events of every hook
 * (record them from a workload on real servers); `subject()` makes a new implementation.
 * Each hook must take every event of its kind synchronously (hooks are called on the query
 * path: no promise), without throwing and without changing it (the same object goes to every
 * hook and channel subscriber); two instances must not interfere.
 *
 * @example
 * ```ts
 * import { instrumentationContract, type RecordedEvents } from '@sluice/testing/instrumentation'
 *
 * declare function recordWorkload(): Promise<RecordedEvents> // e.g. with recordChannel, on real servers
 * const counts = new Map<string, number>()
 * instrumentationContract('my hooks', recordWorkload, () => ({
 *   hooks: { onQueryEnd: (event) => void counts.set(event.target, (counts.get(event.target) ?? 0) + 1) },
 * }))
 * ```
 */
export function instrumentationContract(
  name: string,
  events: () => Promise<RecordedEvents>,
  subject: () => InstrumentationSubject,
): void {
  describe(`instrumentation contract: ${name}`, () => {
    test('the recorded events hold every hook', async () => {
      const recorded = await events()
      const missing = entries(recorded).filter(([, list]) => list.length === 0)
      expect(missing.map(([hook]) => hook)).toEqual([])
    })

    test('each hook takes every real event of its kind synchronously, unchanged, and records it', async () => {
      const recorded = await events()
      const { hooks, check } = subject()
      for (const [hook, list] of entries(recorded)) {
        const method = hooks[hook] as ((event: unknown) => unknown) | undefined
        if (method === undefined) continue
        expect(typeof method, hook).toBe('function')
        for (const event of list) {
          // Frozen: a hook that changes the event it shares with the others throws here.
          expect(method.call(hooks, deepFreeze(event)), hook).toBeUndefined()
        }
      }
      await check?.()
    })

    test('two instances take the same events without interfering', async () => {
      const recorded = await events()
      const both = [subject(), subject()]
      for (const [hook, list] of entries(recorded)) {
        for (const event of list) {
          for (const { hooks } of both) {
            const method = hooks[hook] as ((event: unknown) => unknown) | undefined
            expect(method?.call(hooks, event), hook).toBeUndefined()
          }
        }
      }
      for (const { check } of both) await check?.()
    })
  })
}

function entries(recorded: RecordedEvents): Array<[keyof SluiceHooks, ReadonlyArray<unknown>]> {
  return Object.entries(recorded) as Array<[keyof SluiceHooks, ReadonlyArray<unknown>]>
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}
