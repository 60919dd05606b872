import { readFileSync } from 'node:fs'

/** What `/proc/<pid>/stat` says about a process. */
export interface ProcStat {
  /** The command name, without its parentheses. */
  readonly command: string
  /** The state letter: `R`, `S`, `D`, `T` (stopped), `Z` (zombie)... */
  readonly state: string
  readonly ppid: number
  /** When it started (field 22, in clock ticks since boot): tells a recycled pid apart. */
  readonly start: string | undefined
}

/** `/proc/<pid>/stat` of `pid`, or `undefined` once it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const close = stat.lastIndexOf(')')
  const fields = stat.slice(close + 2).split(' ')
  return {
    command: stat.slice(stat.indexOf('(') + 1, close),
    state: fields[0] as string,
    ppid: Number(fields[1]),
    start: fields[19],
  }
}
