import { describe, expect, it } from 'vitest'
import { type HandOff, noStaleReads, readYourWrites } from '../src/history/index.js'
import { history } from './history-rows.js'

describe('instants shared by two operations', () => {
  it('a read starting the instant its own write ended comes after it', () => {
    // One actor is sequential: touching operations are not overlapping, so the read is later.
    const h = history([
      ['alice', 'write', 'k', 1, 0, 10],
      ['alice', 'read', 'k', undefined, 10, 11],
    ])
    expect(readYourWrites(h).violations).toMatchObject([{ read: { id: 2 }, expected: 1 }])
  })

  it('a hand-off recorded the instant the write ended carries it', () => {
    // The recorder's clock can return the write's end again for the hand-off right after it.
    const h = history(
      [
        ['alice', 'write', 'k', 1, 0, 10],
        ['bob', 'read', 'k', undefined, 20, 21],
      ],
      [{ from: 'alice', to: 'bob', at: 10 }],
    )
    expect(readYourWrites(h).violations).toMatchObject([{ read: { id: 2 }, via: [{ at: 10 }] }])
  })

  it('hand-offs at one instant chain in the order they were recorded, never in a loop', () => {
    const h = history(
      [
        ['alice', 'write', 'k', 1, 0, 10],
        ['carol', 'read', 'k', undefined, 20, 21],
        ['alice', 'read', 'k', 1, 20, 21],
      ],
      [
        { from: 'alice', to: 'bob', at: 15 },
        { from: 'bob', to: 'carol', at: 15 },
        { from: 'carol', to: 'bob', at: 15 },
        { from: 'bob', to: 'alice', at: 15 },
      ],
    )
    expect(readYourWrites(h).violations).toMatchObject([{ read: { id: 2 }, via: [{}, {}] }])
  })

  it("another actor's read starting the instant a write ended may see either version", () => {
    const h = history([
      ['alice', 'write', 'k', 1, 0, 10],
      ['bob', 'read', 'k', undefined, 10, 11],
    ])
    expect(noStaleReads(h).violations).toEqual([])
  })
})

describe('long histories', () => {
  it('a token passed back and forth dozens of times is followed', () => {
    // Each hand-off used to be explored once per path leading to it: 2^n paths.
    const handOffs: HandOff[] = Array.from({ length: 38 }, (_, i) => ({
      from: i % 2 ? 'bob' : 'alice',
      to: i % 2 ? 'alice' : 'bob',
      at: 20 + i,
    }))
    const h = history(
      [
        ['alice', 'write', 'k', 1, 0, 10],
        ['bob', 'read', 'k', undefined, 1000, 1001],
      ],
      handOffs,
    )
    const [violation] = readYourWrites(h).violations
    expect(violation).toMatchObject({ read: { id: 2 }, expected: 1 })
    expect(violation?.via[0]).toEqual(handOffs[0])
  })

  it('judges thousands of operations on one hot key (a real workload)', () => {
    // Writes, invalidations and reads interleaved on one key by four actors, one stale read.
    const rows: Parameters<typeof history>[0] = []
    for (let i = 0; i < 6000; i++) {
      const kind = (['write', 'invalidate', 'read'] as const)[i % 3]
      const version = kind === 'write' ? i : kind === 'read' ? i - 2 : undefined
      rows.push([`actor-${i % 4}`, kind, 'hot', version, i * 10, i * 10 + 5])
    }
    const stale = rows.length - 1 // a read that saw v(i-5) although v(i-2) was written before it
    rows[stale] = ['actor-3', 'read', 'hot', stale - 5, stale * 10, stale * 10 + 5]
    const h = history(rows)
    expect(noStaleReads(h).violations).toMatchObject([{ read: { id: stale + 1 } }])
    expect(readYourWrites(h).violations).toEqual([])
  })
})

describe('bad histories', () => {
  it('a write without a version: INVALID_HISTORY', () => {
    const h = history([
      ['alice', 'write', 'k', undefined, 0, 1],
      ['bob', 'read', 'k', 3, 5, 6],
    ])
    for (const check of [readYourWrites, noStaleReads])
      expect(() => check(h)).toThrowError(
        expect.objectContaining({ name: 'TestServerError', code: 'INVALID_HISTORY' }),
      )
  })
})
