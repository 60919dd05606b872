import { setTimeout as delay } from 'node:timers/promises'
import type { ChildServer } from './child-server.js'

/** One restart by a {@link supervise}d server's supervisor. */
export interface ServerRestart {
  /** When the supervisor saw the process gone. */
  readonly at: Date
  /** How it ended: `exit code 1`, `signal SIGSEGV`. */
  readonly exit: string
  /** The last lines of its log before the restart: the FATAL that ended it, if any. */
  readonly logTail: string
}

/** systemd's default `RestartSec`. */
const RESTART_DELAY_MS = 100

/**
 * Restarts `server` whenever it exits on its own (a crash; not the fixture's `kill()`), as a
 * supervisor with `Restart=always` does, after systemd's default 100 ms: `start` runs it
 * again (same command, so the same port and config). Each restart is pushed to `restarts`
 * before it starts; a start that fails ends in another exit, and so in another restart.
 * `stopped` ends supervision.
 */
export function supervise(
  server: ChildServer,
  start: () => Promise<void>,
  restarts: ServerRestart[],
  stopped: () => boolean,
): void {
  server.onUnexpectedExit = (exit) => {
    restarts.push({ at: new Date(), exit, logTail: server.logTail() })
    void delay(RESTART_DELAY_MS).then(() => {
      if (stopped() || server.running) return
      return start().catch(() => undefined)
    })
  }
}
