import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConfigError, parseConfig } from '../src/index.js'
import { durationOption, parseOptions, TIMER_DURATION } from '../src/internal/index.js'

// The one duration rule of every package (router, cache, partitions), and the config's.
describe('durationOption', () => {
  const schema = z.object({ waitMs: durationOption(TIMER_DURATION).default(1000) })
  const issues = (input: unknown) => {
    try {
      parseOptions(schema, { waitMs: input })
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      return (error as ConfigError).issues
    }
    throw new Error(`${String(input)} was accepted`)
  }

  it('takes milliseconds or a string with a unit, and fills the default', () => {
    const ms = (input: unknown) => parseOptions(schema, { waitMs: input }).waitMs
    expect([250, '250', '250ms', '2s', ' 2 s ', '1.5s', '1.1s', '5m', '1h'].map(ms)).toEqual([
      250, 250, 250, 2000, 2000, 1500, 1100, 300_000, 3_600_000,
    ])
    expect(parseOptions(schema, {}).waitMs).toBe(1000)
  })

  it.each([
    [0, 'must be at least 1 ms'],
    ['0s', 'must be at least 1 ms'],
    [-5, 'must be a duration'],
    [Number.NaN, 'must be a duration'],
    [Number.POSITIVE_INFINITY, 'must be a duration'],
    [1.5, 'must be a whole number of milliseconds'],
    // A string is held to the same rule as a number: it was rounded before.
    ['1.5ms', 'must be a whole number of milliseconds'],
    ['1.0005s', 'must be a whole number of milliseconds'],
    ['2d', 'must be a duration'],
    ['soon', 'must be a duration'],
    ['', 'must be a duration'],
    [true, 'must be a duration'],
    [2 ** 31, `must be at most ${2 ** 31 - 1} ms`],
  ])('refuses %s, naming the option', (input, message) => {
    const [issue, ...more] = issues(input)
    expect(more).toEqual([])
    expect(issue?.field).toBe('waitMs')
    expect(issue?.message).toContain(message)
  })

  it('is the config’s rule too, where 0 turns a timeout off', () => {
    const config = (timeout: unknown) =>
      parseConfig({ DATABASE_URL: 'postgres://app@db/app', DB_STATEMENT_TIMEOUT: timeout })
    expect(config('0').primary.server.statementTimeoutMs).toBe(0)
    expect(config('5s').primary.server.statementTimeoutMs).toBe(5000)
    for (const bad of ['-1', '2d', 'soon']) {
      expect(() => config(bad)).toThrow(/DB_STATEMENT_TIMEOUT: statement timeout must be/)
    }
  })
})
