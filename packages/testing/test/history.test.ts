import { describe, expect, it } from 'vitest'
import { HistoryRecorder, noStaleReads, readYourWrites } from '../src/history/index.js'
import { history } from './history-rows.js'

describe('readYourWrites', () => {
  it('passes when each actor reads its own completed writes or newer', () => {
    const h = history([
      ['alice', 'write', 'k', 1, 0, 10],
      ['alice', 'read', 'k', 1, 11, 12],
      ['bob', 'write', 'k', 2, 5, 20],
      ['alice', 'read', 'k', 2, 21, 22], // newer than her own write: fine
      ['bob', 'read', 'k', 2, 21, 23],
    ])
    const result = readYourWrites(h)
    expect(result.violations).toEqual([])
    expect(result.ok).toBe(true)
    expect(result.format()).toBe('no violations in 5 operations')
  })

  it('reports a read that missed its own write, with timestamps', () => {
    const h = history([
      ['alice', 'write', 'k', 1, 100, 110],
      ['alice', 'write', 'k', 2, 120, 130],
      ['alice', 'read', 'k', 1, 140, 150],
      ['alice', 'read', 'other', undefined, 151, 152], // never written: absent is fine
    ])
    const result = readYourWrites(h)
    expect(result.ok).toBe(false)
    expect(result.violations).toHaveLength(1)
    expect(result.violations[0]).toMatchObject({
      check: 'readYourWrites',
      kind: 'stale',
      expected: 2,
      read: { id: 3, start: 140, end: 150, version: 1 },
      because: { id: 2, start: 120, end: 130 },
    })
    expect(result.format()).toBe(
      [
        '1 violation(s) in 4 operations:',
        'readYourWrites: read #3 by alice of k [+40.000 ms .. +50.000 ms] observed v1, but write of v2 #2 by alice [+20.000 ms .. +30.000 ms] ended before it started',
      ].join('\n'),
    )
  })

  it('follows hand-offs, transitively, and only after they happen', () => {
    const handOffs = [
      { from: 'alice', to: 'bob', at: 20 },
      { from: 'bob', to: 'carol', at: 30 },
    ]
    const h = history(
      [
        ['alice', 'write', 'k', 1, 0, 10],
        ['bob', 'read', 'k', undefined, 15, 16], // before the hand-off: may miss it
        ['bob', 'read', 'k', undefined, 21, 22], // after it: must not
        ['carol', 'read', 'k', undefined, 31, 32], // handed on by bob
        ['dave', 'read', 'k', undefined, 31, 32], // never handed anything
      ],
      handOffs,
    )
    const result = readYourWrites(h)
    expect(result.violations.map((v) => [v.read.id, v.via.length])).toEqual([
      [3, 1],
      [4, 2],
    ])
    expect(result.format()).toContain('observed absent, but write of v1 #1 by alice')
    expect(result.format()).toContain('handed alice -> bob at +20.000 ms, handed bob -> carol')
  })

  it('ignores failed writes (they may not have happened) and failed reads', () => {
    const h = history([
      ['alice', 'write', 'k', 1, 0, 10, false],
      ['alice', 'read', 'k', undefined, 11, 12],
      ['alice', 'write', 'k', 2, 13, 14],
      ['alice', 'read', 'k', undefined, 15, 16, false],
    ])
    expect(readYourWrites(h).ok).toBe(true)
  })
})

describe('noStaleReads', () => {
  it('a read concurrent with a write may see either version', () => {
    const h = history([
      ['w', 'write', 'k', 1, 0, 10],
      ['w', 'write', 'k', 2, 20, 40],
      ['r1', 'read', 'k', 1, 25, 30], // overlaps write 2
      ['r2', 'read', 'k', 2, 25, 30], // overlaps write 2, sees it
      ['r3', 'read', 'k', 2, 41, 42],
    ])
    expect(noStaleReads(h).violations).toEqual([])
  })

  it('concurrent writes: either order is a valid newest value, older ones are not', () => {
    const h = history([
      ['a', 'write', 'k', 1, 0, 30],
      ['b', 'write', 'k', 2, 5, 20],
      ['c', 'read', 'k', 2, 31, 32], // both done: v2 is the floor
      ['d', 'read', 'k', 1, 21, 25], // v2 done, v1 still running: v1 is stale
    ])
    const result = noStaleReads(h)
    expect(result.violations.map((v) => [v.read.id, v.expected])).toEqual([[4, 2]])
  })

  it('reports a read, in any actor, older than a completed write', () => {
    const h = history([
      ['writer', 'write', 'k', 1, 0, 10],
      ['writer', 'write', 'k', 2, 20, 30],
      ['reader', 'read', 'k', 1, 35, 36],
      ['reader', 'read', 'k', undefined, 37, 38],
    ])
    const result = noStaleReads(h)
    expect(result.violations.map((v) => [v.read.id, v.kind, v.expected])).toEqual([
      [3, 'stale', 2],
      [4, 'stale', 2],
    ])
    expect(readYourWrites(h).ok).toBe(true) // another actor's write: RYW does not promise it
  })

  it('an invalidation sets a floor: the newest completed write, or its own version', () => {
    const h = history([
      ['db', 'write', 'k', 1, 0, 10],
      ['svc', 'invalidate', 'k', undefined, 12, 14], // v1 is the newest completed write
      ['db2', 'write', 'k', 3, 13, 30], // its client has not seen the end yet...
      ['svc', 'invalidate', 'k', 3, 15, 16], // ...but the invalidation says v3 is current
      ['r', 'read', 'k', undefined, 15, 15.5], // floor v1: stale
      ['r', 'read', 'k', 3, 17, 18],
      ['r', 'read', 'k', 1, 19, 20], // stale after the v3 invalidation
    ])
    const result = noStaleReads(h)
    expect(result.violations.map((v) => [v.read.id, v.expected, v.because?.id])).toEqual([
      [5, 1, 1],
      [7, 3, 4],
    ])
    expect(result.format()).toContain('invalidation to v3 #4 by svc')
  })

  it('reports a version no write had started (a phantom)', () => {
    const h = history([
      ['r', 'read', 'k', 7, 0, 1],
      ['w', 'write', 'k', 7, 2, 3],
    ])
    expect(noStaleReads(h).violations).toMatchObject([{ kind: 'unwritten', read: { id: 1 } }])
  })
})

describe('bad histories', () => {
  it('overlapping operations of one actor: OVERLAPPING_OPERATIONS', () => {
    const h = history([
      ['alice', 'write', 'k', 1, 0, 10],
      ['alice', 'read', 'k', 1, 5, 12],
    ])
    for (const check of [readYourWrites, noStaleReads])
      expect(() => check(h)).toThrowError(
        expect.objectContaining({ name: 'TestServerError', code: 'OVERLAPPING_OPERATIONS' }),
      )
  })

  it('an operation ending before it starts: INVALID_HISTORY', () => {
    expect(() => noStaleReads(history([['a', 'read', 'k', 1, 5, 4]]))).toThrowError(
      expect.objectContaining({ code: 'INVALID_HISTORY' }),
    )
  })
})

describe('HistoryRecorder', () => {
  it('records operations, failures and hand-offs that the checkers read', async () => {
    const recorder = new HistoryRecorder()
    let stored: number | undefined
    await recorder.write('alice', 'k', 1, async () => {
      stored = 1
    })
    await expect(
      recorder.write('alice', 'k', 2, async () => {
        throw new Error('lost')
      }),
    ).rejects.toThrow('lost')
    recorder.handOff('alice', 'bob')
    expect(await recorder.read('bob', 'k', async () => stored)).toBe(1)
    await recorder.invalidate('alice', 'k', async () => undefined)
    const recorded = recorder.history()
    expect(recorded.operations.map((op) => [op.kind, op.version, op.ok])).toEqual([
      ['write', 1, true],
      ['write', 2, false],
      ['read', 1, true],
      ['invalidate', undefined, true],
    ])
    for (const op of recorded.operations) expect(op.end).toBeGreaterThanOrEqual(op.start)
    expect(recorded.handOffs).toMatchObject([{ from: 'alice', to: 'bob' }])
    expect(readYourWrites(recorded).ok).toBe(true)
    expect(noStaleReads(recorded).ok).toBe(true)
  })

  it('refuses to start an operation of an actor that has one running', async () => {
    const recorder = new HistoryRecorder()
    let release = () => {}
    const first = recorder.read('alice', 'k', () => new Promise((r) => (release = () => r(1))))
    await expect(recorder.read('alice', 'k', async () => 1)).rejects.toMatchObject({
      code: 'OVERLAPPING_OPERATIONS',
    })
    await expect(recorder.read('bob', 'k', async () => 1)).resolves.toBe(1)
    release()
    expect(await first).toBe(1)
  })

  it('catches a stale read a real workload made', async () => {
    const recorder = new HistoryRecorder()
    const database = new Map<string, number>()
    let cached: number | undefined
    await recorder.write('writer', 'k', 1, async () => void database.set('k', 1))
    cached = await recorder.read('reader', 'k', async () => database.get('k'))
    await recorder.write('writer', 'k', 2, async () => void database.set('k', 2)) // no invalidation
    await recorder.read('reader', 'k', async () => cached)
    const result = noStaleReads(recorder.history())
    expect(result.violations).toHaveLength(1)
    expect(result.format()).toMatch(/read #4 by reader of k .* observed v1, but write of v2 #3/)
  })
})
