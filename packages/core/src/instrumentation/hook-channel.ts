import diagnostics from 'node:diagnostics_channel'
import { kind } from '../config/client-options.js'
import { ConfigError, type ConfigIssue } from '../errors/errors.js'
import { guardHook } from './hook-errors.js'

/** The event a hook of `H` receives. */
export type HookEvent<H, K extends keyof H> =
  NonNullable<H[K]> extends (event: infer E) => unknown ? E : never

/** The `node:diagnostics_channel` name each hook of `H` publishes on. */
export type ChannelNames<H> = { readonly [K in keyof H]-?: string }

/** One {@link HookChannel} per hook of `H`. */
export type HookChannels<H> = { readonly [K in keyof H]-?: HookChannel<HookEvent<H, K>> }

/**
 * One kind of event: the hooks the `instrumentation` option gave for it, each guarded (see
 * {@link guardHook}), and its named `node:diagnostics_channel` channel. Publish as
 * `events.emit?.({...})`: `emit` is `undefined` while no hook is given and nobody subscribes
 * to the channel, so no event object is built then.
 *
 * @example
 * ```ts
 * const route = new HookChannel<{ target: string }>('sluice:example', [])
 * route.emit?.({ target: 'primary' })
 * ```
 */
export class HookChannel<E> {
  readonly #hooks: ReadonlyArray<(event: E) => void>
  readonly #channel: diagnostics.Channel
  readonly #publish: (event: E) => void

  constructor(channel: string, hooks: ReadonlyArray<(event: E) => void>) {
    this.#hooks = hooks
    this.#channel = diagnostics.channel(channel)
    this.#publish = (event) => {
      for (const hook of this.#hooks) hook(event)
      if (this.#channel.hasSubscribers) this.#channel.publish(event)
    }
  }

  /** The publisher while anyone listens, else `undefined`. */
  get emit(): ((event: E) => void) | undefined {
    return this.#hooks.length > 0 || this.#channel.hasSubscribers ? this.#publish : undefined
  }
}

/**
 * The events of an instrumentation interface, by hook name, from the hook objects given (one,
 * several, or none) and the channel names of the package that owns them. Hooks are looked up
 * by the names in `channels` only, own or inherited (class instances work); other keys are
 * another package's hooks or the object's own business.
 *
 * @throws ConfigError (`CONFIG_INVALID`) for a hook object that is not an object, or a hook of
 * these names that is not a function (`instrumentation.onQueryEnd`, `instrumentation.1.onRoute`).
 *
 * @example
 * ```ts
 * interface Hooks { onExample?(event: { n: number }): void }
 * const events = hookChannels<Hooks>([{ onExample: (e) => console.log(e.n) }], { onExample: 'sluice:example' })
 * events.onExample.emit?.({ n: 1 })
 * ```
 */
export function hookChannels<H extends object>(
  instrumentation: H | readonly H[] | undefined,
  channels: ChannelNames<H>,
): HookChannels<H> {
  const given: readonly H[] =
    instrumentation === undefined
      ? []
      : Array.isArray(instrumentation)
        ? instrumentation
        : [instrumentation as H]
  checkHooks(given, Array.isArray(instrumentation), Object.keys(channels))
  const events: Record<string, HookChannel<unknown>> = {}
  for (const name of Object.keys(channels) as Array<keyof H & string>) {
    const hooks = given.flatMap((hooked) => {
      const hook = hooked[name]
      return typeof hook === 'function'
        ? [guardHook(name, hook as (event: unknown) => unknown, hooked)]
        : []
    })
    events[name] = new HookChannel(channels[name], hooks)
  }
  return events as HookChannels<H>
}

/** A hook given but not a function would never be called: say so at construction. */
function checkHooks(given: readonly unknown[], many: boolean, names: readonly string[]): void {
  const issues: ConfigIssue[] = []
  given.forEach((hooked, index) => {
    const field = many ? `instrumentation.${index}` : 'instrumentation'
    if (typeof hooked !== 'object' || hooked === null || Array.isArray(hooked)) {
      issues.push({ field, message: `must be an object of hooks (got ${kind(hooked)})` })
      return
    }
    for (const name of names) {
      const hook = (hooked as Record<string, unknown>)[name]
      if (hook !== undefined && typeof hook !== 'function') {
        issues.push({
          field: `${field}.${name}`,
          message: `must be a function (got ${kind(hook)})`,
        })
      }
    }
  })
  if (issues.length > 0) throw new ConfigError(issues)
}
