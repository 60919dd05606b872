import { TestServerError } from '../../errors.js'

/** `ha: 'patroni'`: not run by this version (see the README's "HA engines" section for why). */
export function refusePatroni(): never {
  throw new TestServerError(
    'ENGINE_UNAVAILABLE',
    "ha: 'patroni' is not supported by this version of @sluice/testing; use ha: 'pg_auto_failover'",
  )
}
