import { TestServerError } from '../errors.js'
import { callControl } from './control-channel.js'
import type { FaultProxy, FaultProxyInfo, FaultProxyStats } from './fault-proxy.js'

/** The longest delay a Node.js timer keeps (about 24.8 days); longer ones fire at once. */
const MAX_LATENCY_MS = 2 ** 31 - 1

/** Fails with `INVALID_LATENCY` unless `ms` is a finite number in 0..2^31 - 1. */
export function checkLatency(ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_LATENCY_MS)
    throw new TestServerError(
      'INVALID_LATENCY',
      `latency(ms) needs a finite number of milliseconds in 0-${MAX_LATENCY_MS}, got ${String(ms)}`,
    )
}

/** Fails with `INVALID_TARGET` unless `host` is a name and `port` a TCP port: the address a fault proxy listens on or forwards to. */
export function checkAddress(host: string, port: number): void {
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
 * const proxy = attachFaultProxy(inject('replicaProxy')) // provided by a vitest global setup
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
    retarget: async (host, port, options) => {
      checkAddress(host, port)
      await call('retarget', host, port, options ?? {})
    },
    stats: () => call<FaultProxyStats>('stats'),
    stop: () => call('stop'),
  }
}
