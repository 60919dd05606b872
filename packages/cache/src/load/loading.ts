import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import type { ConsistencySource } from '@sluice/core'
import { withDeadline } from '@sluice/core/internal'
import { decodeEntry, type Entry, encodeEntry, versionsOf } from '../entry.js'
import { CacheError, quoted } from '../errors.js'
import type { CacheEvent, NotStoredReason } from '../events.js'
import type { LocalTier } from '../l1/local-tier.js'
import type { ResolvedCacheOptions } from '../options/cache-options.js'
import type { ResolvedLoad } from '../options/load-options.js'
import type { Versioned } from '../store/cache-store.js'
import { type GuardedStore, type Maybe, UNAVAILABLE } from '../store/guarded-store.js'
import { isUnknownFloor } from '../store/unknown-floor.js'
import { FLOOR_LOST, floorOf, isLost, runAtFloor } from './floor.js'

const WAIT_POLL_MS = 20
const MAX_ORPHANS = 10_000

/**
 * One key's load as a request: what to load, under which tags, with which options, and when
 * it began: L1's `epoch` then (a fill after a later invalidation of the key is refused) and the
 * `deadline` (epoch ms) of its store calls before the loader; what is left of it bounds the
 * wait for the store after it (a slower store finishes in the background).
 */
export interface LoadRequest<T = unknown> {
  readonly key: string
  readonly loader: () => Promise<T | undefined>
  readonly tags: readonly string[]
  readonly options: ResolvedLoad
  readonly epoch: number
  readonly deadline: number
  /** Told of the store that follows the loader, which may outlast the call. */
  readonly storing?: (stored: Promise<void>) => void
}

/** What a load read before its loader ran: the key's generation and its tags' versions. */
interface Snapshot {
  readonly generation: Maybe<Versioned>
  readonly versions: Maybe<Versioned[]>
}

type LockOutcome<T> = { kind: 'locked' | 'unlocked' } | { kind: 'value'; value: T | undefined }

/**
 * Loads keys across processes: snapshots the generation and tag versions (and their floors)
 * before the loader reads anything, takes the key's lock (extended while the loader runs) or
 * waits for its holder's value, runs the loader at the floor within `loadTimeoutMs`, and
 * stores the value only if it was read at that floor and the generation did not move.
 */
export class Loading {
  readonly #shared: GuardedStore
  readonly #l1: LocalTier
  readonly #consistency: ConsistencySource | undefined
  readonly #options: ResolvedCacheOptions
  readonly #emit: (event: CacheEvent) => void
  readonly #closing = new AbortController()
  /** Locks this process holds but could not release (Redis did not answer): released first. */
  readonly #orphans = new Map<string, string>()

  constructor(
    shared: GuardedStore,
    l1: LocalTier,
    consistency: ConsistencySource | undefined,
    options: ResolvedCacheOptions,
    emit: (event: CacheEvent) => void,
  ) {
    this.#shared = shared
    this.#l1 = l1
    this.#consistency = consistency
    this.#options = options
    this.#emit = emit
    // Every load waiting for another's lock listens to it: no limit (Node warns past 10).
    setMaxListeners(0, this.#closing.signal)
  }

  /** Waiting loads stop and reject with `CACHE_CLOSED`. */
  close(): void {
    this.#closing.abort()
  }

  /** Loads a key (see {@link LoadRequest} for what its deadline bounds). */
  async load<T>(request: LoadRequest<T>): Promise<T | undefined> {
    const { key, tags, options, deadline } = request
    const [generation, versions] = await Promise.all([
      this.#shared.generation(key, deadline),
      this.#shared.snapshotTags(tags, deadline),
    ])
    const snapshot: Snapshot = { generation, versions }
    const owner = randomUUID()
    const lock = await this.#lockOrWait<T>(key, owner, options.lockTimeoutMs, deadline)
    if (lock.kind === 'value') return lock.value
    if (this.#closing.signal.aborted) {
      throw new CacheError('CACHE_CLOSED', 'The cache was closed while this load was starting')
    }
    const stopExtending = lock.kind === 'locked' ? this.#keepLock(key, owner, options) : () => {}
    const started = performance.now()
    // What the store calls before the loader left of the request's budget bounds the wait for
    // the store after it: the store adds at most one storeTimeoutMs to a call in all.
    const budgetLeft = deadline - Date.now()
    let stored: Promise<void> | undefined
    try {
      const floor = floorOf(this.#consistency, generation, versions)
      const recordLost = (token: string) => this.#recordLost(request, snapshot, token)
      const { value, atFloor } = await withDeadline(
        runAtFloor(
          this.#consistency,
          floor,
          request.loader,
          (event) => this.#emit(event),
          floor === FLOOR_LOST ? recordLost : undefined,
        ),
        options.loadTimeoutMs,
        () => {
          throw new CacheError(
            'CACHE_LOAD_TIMEOUT',
            `The loader of ${quoted(key)} did not settle within ${options.loadTimeoutMs} ms`,
          )
        },
      )
      stored = this.#storeLoaded(request, snapshot, value, started, atFloor)
      request.storing?.(stored)
      if (budgetLeft > 0)
        await withDeadline(stored, budgetLeft, () => undefined).catch(() => undefined)
      return value
    } finally {
      stopExtending()
      const release = async () => {
        await stored
        if (lock.kind !== 'locked') return
        const released = await this.#shared.unlock(key, owner)
        if (released !== UNAVAILABLE) return
        if (this.#orphans.size >= MAX_ORPHANS) this.#orphans.clear()
        this.#orphans.set(key, owner)
      }
      void release()
    }
  }

  /** A value from the shared store that its tags still allow; undecodable payloads are misses. */
  async readShared<T>(key: string, deadline: number): Promise<Entry<T> | undefined> {
    const payload = await this.#shared.get(key, deadline)
    if (payload === UNAVAILABLE || payload === undefined) return undefined
    const entry = decodeEntry<T>(payload)
    if (!entry) {
      this.#emit({
        kind: 'error',
        source: 'payload',
        key,
        error: new CacheError(
          'CACHE_PAYLOAD_UNREADABLE',
          `The entry of ${quoted(key)} is not one this version can read (another format, another type, or over maxEntryBytes); it is treated as a miss`,
        ),
      })
      return undefined
    }
    const names = Object.keys(entry.tags)
    if (names.length === 0) return entry
    const current = await this.#shared.tagVersions(names, deadline)
    if (current === UNAVAILABLE) return undefined
    return names.some((name, i) => current[i] !== entry.tags[name]) ? undefined : entry
  }

  /** A TTL with jitter: up to `jitter` of it either way. */
  jittered(ttlMs: number): number {
    const spread = ttlMs * this.#options.jitter
    return Math.max(1, Math.round(ttlMs + (Math.random() * 2 - 1) * spread))
  }

  /**
   * Stores a loaded value if its generation did not move. The value is serialized before
   * this returns its promise, so an unserializable value rejects the load's callers.
   */
  #storeLoaded<T>(
    { key, tags, options, epoch }: LoadRequest<T>,
    { generation, versions }: Snapshot,
    value: T | undefined,
    started: number,
    atFloor: boolean,
  ): Promise<void> {
    const ttlMs = value === undefined ? options.negativeTtlMs : options.ttlMs
    const ttl = this.jittered(ttlMs)
    const entry: Entry<T> = {
      value,
      tags: versionsOf(tags, versions === UNAVAILABLE ? [] : versions),
      freshUntil: Date.now() + ttl,
    }
    const payload = encodeEntry(entry)
    const done = (reason?: NotStoredReason) => {
      const durationMs = performance.now() - started
      this.#emit({ kind: 'load', key, durationMs, stored: reason === undefined, reason })
    }
    if (value === undefined && ttlMs === 0) return Promise.resolve(done('not-found'))
    if (!atFloor) return Promise.resolve(done('no-floor'))
    if (generation === UNAVAILABLE || versions === UNAVAILABLE) {
      return Promise.resolve(done('store-unavailable'))
    }
    if (Buffer.byteLength(payload) > this.#options.maxEntryBytes) {
      return Promise.resolve(done('too-large'))
    }
    return this.#shared
      .setIfGeneration(key, payload, ttl + options.graceMs, generation.version)
      .then((result) => {
        if (result === UNAVAILABLE) return done('store-unavailable')
        if (!result) return done('invalidated')
        this.#l1.fill(key, entry, epoch)
        done()
      })
  }

  /**
   * Records `token` (the primary's position the load read at) as the floor of the key and
   * tags whose floor the store lost or held as unknown, so that the next loads read at it
   * without asking the primary; in the background (its failure only leaves them asking again).
   */
  #recordLost({ key, tags }: LoadRequest, { generation, versions }: Snapshot, token: string) {
    const known = versions === UNAVAILABLE ? [] : versions
    const keys = generation !== UNAVAILABLE && isLost(generation) ? [key] : []
    const lost = tags.filter((_, i) => known[i] && isLost(known[i]))
    const seen = [...known, ...(generation === UNAVAILABLE ? [] : [generation])]
    const unknown = new Set(seen.flatMap(({ floor }) => (isUnknownFloor(floor) ? [floor] : [])))
    void this.#shared.recordFloors(keys, lost, token, unknown)
  }

  /** Extends the lock every half `lockTimeoutMs` while the loader runs; returns the stop. */
  #keepLock(key: string, owner: string, options: ResolvedLoad): () => void {
    const timer = setInterval(
      () => {
        void this.#shared.extendLock(key, owner, options.lockTimeoutMs)
      },
      Math.max(1, Math.floor(options.lockTimeoutMs / 2)),
    )
    timer.unref()
    return () => clearInterval(timer)
  }

  /**
   * Takes the key's cross-process lock, or waits for its holder's value. A caller that gets
   * the lock checks the store once more: a holder that finished between this caller's miss
   * and its lock has stored the value, and loading it again would be a wasted load.
   */
  async #lockOrWait<T>(
    key: string,
    owner: string,
    lockMs: number,
    deadline: number,
  ): Promise<LockOutcome<T>> {
    const first = await this.#tryLock<T>(key, owner, lockMs, deadline)
    if (first) return first
    const started = performance.now()
    // The holder extends its lock while its loader runs (up to loadTimeoutMs), then stores its
    // value; a holder that dies stops extending and its lock expires after lockMs. Waiting
    // ends, at the latest, once the holder's loader would have timed out and a second
    // holder's lock could have expired too: then this caller loads without the lock.
    const until = Date.now() + this.#options.loadTimeoutMs + 2 * lockMs + WAIT_POLL_MS * 10
    try {
      while (Date.now() < until) {
        try {
          await delay(WAIT_POLL_MS, undefined, { signal: this.#closing.signal })
        } catch {
          throw new CacheError('CACHE_CLOSED', 'The cache was closed while waiting for a load')
        }
        const found = await this.readShared<T>(key, this.#shared.deadline())
        if (found && found.freshUntil > Date.now()) return { kind: 'value', value: found.value }
        const retry = await this.#tryLock<T>(key, owner, lockMs, this.#shared.deadline())
        if (retry) return retry
      }
      return { kind: 'unlocked' }
    } finally {
      this.#emit({ kind: 'lock-wait', key, durationMs: performance.now() - started })
    }
  }

  /** The lock (or, without a store, no lock); `undefined` while another caller holds it. */
  async #tryLock<T>(
    key: string,
    owner: string,
    lockMs: number,
    deadline: number,
  ): Promise<LockOutcome<T> | undefined> {
    const orphan = this.#orphans.get(key)
    if (orphan !== undefined) {
      // Our own earlier load's lock: without this, callers would wait for it to expire.
      const released = await this.#shared.unlock(key, orphan)
      if (released !== UNAVAILABLE) this.#orphans.delete(key)
    }
    const locked = await this.#shared.tryLock(key, owner, lockMs, deadline)
    if (locked === UNAVAILABLE) return { kind: 'unlocked' }
    if (!locked) return undefined
    const found = await this.readShared<T>(key, deadline)
    if (!found || found.freshUntil <= Date.now()) return { kind: 'locked' }
    await this.#shared.unlock(key, owner)
    return { kind: 'value', value: found.value }
  }
}
