import { TestServerError } from '../errors.js'
import { callControl } from './control-channel.js'
import type { FaultProxy, FaultProxyInfo, FaultProxyStats } from './fault-proxy.js'

/** Fails with `INVALID_LATENCY` unless `ms` is a finite number ≥ 0. */
export function checkLatency(ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new TestServerError(
      'INVALID_LATENCY',
      `latency(ms) needs a finite number of milliseconds >= 0, got ${String(ms)}`,
    )
}

/** Fails with `INVALID_TARGET` unless `host` is a name and `port` a TCP port. */
export function checkTarget(host: string, port: number): void {
  if (
    typeof host !== 'string' ||
    host === '' ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65_535
  )
    throw new TestServerError(
      'INVALID_TARGET',
      `a fault proxy target needs a host and a port in 1-65535, got ${String(host)}:${String(port)}`,
    )
}

/**
 * Rebuilds a {@link FaultProxy} from its {@link FaultProxyInfo} in any process: every control
 * goes to the process that started the proxy, over its loopback control channel.
 *
 * @example
 * ```ts
 * const proxy = attachFaultProxy(info) // e.g. provided by a vitest global setup
 * await proxy.blackhole()
 * ```
 */
export function attachFaultProxy(info: FaultProxyInfo): FaultProxy {
  const call = <T = void>(method: string, ...args: unknown[]) =>
    callControl<T>(info.control, info.id, method, args)
  return {
    host: info.host,
    port: info.port,
    info,
    latency: async (ms) => {
      checkLatency(ms) // NaN and Infinity would not survive JSON
      await call('latency', ms)
    },
    blackhole: () => call('blackhole'),
    cut: () => call('cut'),
    restore: () => call('restore'),
    retarget: async (host, port) => {
      checkTarget(host, port)
      await call('retarget', host, port)
    },
    stats: () => call<FaultProxyStats>('stats'),
    stop: () => call('stop'),
  }
}
