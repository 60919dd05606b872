import {
  ConsistencyTokenFormatError,
  ForeignConsistencyTokenError,
  InvalidConsistencyTokenError,
} from './errors.js'
import { formatLsn, parseLsn } from './lsn.js'
import type { Position } from './position.js'

/** Longer input is refused before any parsing: a token fits a header line and a log line. */
export const MAX_TOKEN_LENGTH = 64
const VERSION = 'v1'
const TOKEN = /^v1\.(\d{1,20})\.([0-9A-F]{1,8})\.([0-9A-F]{1,8}\/[0-9A-F]{1,8})\.([0-9a-z]{4})$/
const VERSIONED = /^v(\d+)\./
const BARE_LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/

/**
 * Formats a position as a consistency token: `v1.<system id>.<timeline>.<LSN>.<check>`, e.g.
 * `v1.7441234567890123456.1.0/3000148.k2x9`, at most 60 characters, only `[0-9A-Za-z./]`, so
 * it travels in an HTTP header or a job payload as is. The check characters catch a token cut
 * short or altered on the way.
 *
 * @example
 * ```ts
 * formatToken({ systemId: '7441234567890123456', timeline: 1, lsn: 50331976n })
 * ```
 */
export function formatToken(position: Position & { readonly systemId: string }): string {
  const body = `${VERSION}.${position.systemId}.${position.timeline.toString(16).toUpperCase()}.${formatLsn(position.lsn)}`
  return `${body}.${check(body)}`
}

/**
 * Parses a consistency token. When `systemId` (the cluster's) is given, a token minted by
 * another cluster is refused.
 *
 * @throws ConsistencyTokenFormatError (`CONSISTENCY_TOKEN_FORMAT`) for a bare LSN (the format
 * before v1) or an unknown version; ForeignConsistencyTokenError
 * (`CONSISTENCY_TOKEN_FOREIGN_CLUSTER`) for another cluster's token; InvalidConsistencyTokenError
 * (`INVALID_CONSISTENCY_TOKEN`) for anything else: not a string, over 64 characters, truncated
 * or altered.
 * @example
 * ```ts
 * const position = parseToken(request.headers['x-consistency-token'])
 * ```
 */
export function parseToken(token: unknown, systemId?: string): Position {
  if (typeof token !== 'string') throw new InvalidConsistencyTokenError(token, 'is not a string')
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new InvalidConsistencyTokenError(token, `is longer than ${MAX_TOKEN_LENGTH} characters`)
  }
  if (BARE_LSN.test(token)) throw new ConsistencyTokenFormatError(token, 'a bare LSN (before v1)')
  const version = VERSIONED.exec(token)?.[1]
  if (version !== undefined && version !== '1') {
    throw new ConsistencyTokenFormatError(token, `format v${version}`)
  }
  const match = TOKEN.exec(token)
  const body = token.slice(0, token.lastIndexOf('.'))
  if (!match || match[4] !== check(body)) {
    throw new InvalidConsistencyTokenError(token, 'is truncated or altered')
  }
  const [, system, timeline, lsn] = match as unknown as [string, string, string, string]
  if (systemId !== undefined && system !== systemId) {
    throw new ForeignConsistencyTokenError(token, system, systemId)
  }
  return { systemId: system, timeline: Number.parseInt(timeline, 16), lsn: parseLsn(lsn) }
}

/** FNV-1a of `text`, as 4 base-36 characters. */
function check(text: string): string {
  let hash = 0x811c9dc5
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return (hash % 36 ** 4).toString(36).padStart(4, '0')
}
