import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import * as errors from '../src/errors/errors.js'
import { SluiceError } from '../src/errors/sluice-error.js'

// A second copy of core's errors, as when an app ends up with two versions of @sluice/core.
const copy = mkdtempSync(join(tmpdir(), 'sluice-core-copy-'))
cpSync(join(import.meta.dirname, '..', 'src', 'errors'), copy, { recursive: true })
afterAll(() => rmSync(copy, { recursive: true, force: true }))
const load = async () => ({
  other: (await import(join(copy, 'errors.ts'))) as typeof errors,
  otherBase: (await import(join(copy, 'sluice-error.ts'))) as { SluiceError: typeof SluiceError },
})

it('instanceof works across copies of core, for the base class and each subclass', async () => {
  const { other, otherBase } = await load()
  expect(other.ConfigError).not.toBe(errors.ConfigError)
  const foreign = new other.ConfigError([{ field: 'DATABASE_URL', message: 'bad' }])
  expect(Object.getPrototypeOf(foreign)).not.toBe(errors.ConfigError.prototype)
  expect(foreign instanceof errors.ConfigError).toBe(true)
  expect(foreign instanceof SluiceError).toBe(true)
  expect(new errors.ConfigError([]) instanceof other.ConfigError).toBe(true)
  expect(
    new errors.ConnectionError('CONNECTION_FAILED', 'x') instanceof otherBase.SluiceError,
  ).toBe(true)
  // Still a real check: other classes, plain errors and look-alikes are not.
  expect(foreign instanceof errors.ConnectionError).toBe(false)
  expect(new errors.DatabaseClosedError() instanceof other.ConfigError).toBe(false)
  expect(new Error('x') instanceof SluiceError).toBe(false)
  expect({ name: 'ConfigError', code: 'CONFIG_INVALID' } instanceof errors.ConfigError).toBe(false)
  expect(SluiceError[Symbol.hasInstance](null)).toBe(false)
})

it('subclasses defined by sibling packages are recognised too', async () => {
  const { otherBase } = await load()
  class CacheError extends otherBase.SluiceError {}
  const error = new CacheError('CACHE_X', 'x')
  expect(error instanceof SluiceError).toBe(true)
  expect(error instanceof CacheError).toBe(true)
  expect(new SluiceError('Y', 'y') instanceof CacheError).toBe(false)
})
