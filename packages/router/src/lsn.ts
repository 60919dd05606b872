import { InvalidConsistencyTokenError } from './errors.js'

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/**
 * Parses a PostgreSQL LSN (`16/B374D848`) into a number of bytes. A consistency token is
 * such an LSN.
 *
 * @throws InvalidConsistencyTokenError (`INVALID_CONSISTENCY_TOKEN`) for anything else.
 * @example
 * ```ts
 * parseLsn('0/3000060') // 50331744n
 * ```
 */
export function parseLsn(lsn: string): bigint {
  const match = typeof lsn === 'string' ? LSN.exec(lsn) : null
  if (!match) throw new InvalidConsistencyTokenError(lsn)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/**
 * Formats bytes as PostgreSQL writes an LSN.
 *
 * @example
 * ```ts
 * formatLsn(50331744n) // '0/3000060'
 * ```
 */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}
