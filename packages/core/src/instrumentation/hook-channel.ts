import diagnostics from 'node:diagnostics_channel'
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
 * by the names in `channels` only, own or inherited (class instances work).
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
