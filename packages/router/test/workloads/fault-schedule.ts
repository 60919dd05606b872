import { setTimeout as until } from 'node:timers/promises'
import { type ReplicaServer, seededRandom } from '@sluice/testing'

export { seededRandom }

/** What a schedule does to a replica for a while. */
export type ReplicaFault = 'pause-replay' | 'apply-delay' | 'freeze' | 'kill'

const FAULTS: readonly ReplicaFault[] = ['pause-replay', 'apply-delay', 'freeze', 'kill']

/** One fault: on replica `replica` (index), from `atMs` after the start, for `holdMs`. */
export interface FaultStep {
  readonly replica: number
  readonly fault: ReplicaFault
  readonly atMs: number
  readonly holdMs: number
}

/**
 * Faults at random moments on each of `replicas` replicas during `runMs` (each replica's
 * faults one after another, replicas independently, so both may be faulty at once), every
 * kind of fault in each shuffled round of four. The last fault ends `runMs - 1000` at the latest.
 */
export function faultSchedule(seed: number, replicas: number, runMs: number): FaultStep[] {
  const random = seededRandom(seed)
  const between = (low: number, high: number) => Math.round(low + random() * (high - low))
  const steps: FaultStep[] = []
  for (let replica = 0; replica < replicas; replica++) {
    let round: ReplicaFault[] = []
    for (let atMs = between(500, 3000); ; ) {
      if (round.length === 0) round = [...FAULTS].sort(() => random() - 0.5)
      const holdMs = between(1000, 5000)
      if (atMs + holdMs > runMs - 1000) break
      steps.push({ replica, fault: round.pop() as ReplicaFault, atMs, holdMs })
      atMs += holdMs + between(500, 3000)
    }
  }
  return steps.sort((a, b) => a.atMs - b.atMs)
}

/** The schedule as lines to print, so a failing run can be read (and rerun with its seed). */
export function describeSchedule(seed: number, steps: readonly FaultStep[]): string {
  return [
    `fault schedule, seed ${seed} (rerun with SLUICE_FAULT_SEED=${seed}):`,
    ...steps.map(
      (step) =>
        `  +${(step.atMs / 1000).toFixed(1)} s replica-${step.replica + 1} ${step.fault} for ${step.holdMs} ms`,
    ),
  ].join('\n')
}

/**
 * Runs `steps` against `replicas` from `startedAt` (epoch ms): each fault is applied at its
 * moment and undone after its hold. Waiting for a scheduled moment is the workload's clock,
 * not a wait for a condition. `applyDelayMs` is the replicas' usual apply delay, put back
 * after an `apply-delay` fault. Undoes whatever is still applied if a step fails.
 */
export async function runSchedule(
  steps: readonly FaultStep[],
  replicas: readonly ReplicaServer[],
  startedAt: number,
  applyDelayMs: number,
): Promise<void> {
  const byReplica = replicas.map((_, index) => steps.filter((step) => step.replica === index))
  await Promise.all(
    byReplica.map(async (own, index) => {
      const replica = replicas[index] as ReplicaServer
      for (const step of own) {
        await until(Math.max(0, startedAt + step.atMs - Date.now()))
        await apply(replica, step.fault)
        try {
          await until(Math.max(0, startedAt + step.atMs + step.holdMs - Date.now()))
        } finally {
          await undo(replica, step.fault, applyDelayMs)
        }
      }
    }),
  )
}

async function apply(replica: ReplicaServer, fault: ReplicaFault): Promise<void> {
  if (fault === 'pause-replay') await replica.pauseReplay()
  else if (fault === 'apply-delay') await replica.setApplyDelay(1000)
  else if (fault === 'freeze') await replica.freeze()
  else await replica.kill()
}

async function undo(replica: ReplicaServer, fault: ReplicaFault, delayMs: number): Promise<void> {
  if (fault === 'pause-replay') await replica.resumeReplay()
  else if (fault === 'apply-delay') await replica.setApplyDelay(delayMs)
  else if (fault === 'freeze') await replica.thaw()
  else await replica.start()
}
