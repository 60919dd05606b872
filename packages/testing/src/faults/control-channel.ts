import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TestServerError } from '../errors.js'

/** Where a process's control server listens; plain data that travels with fixture infos. */
export interface ControlAddress {
  readonly url: string
  readonly secret: string
}

/** A local object the control server exposes: its methods are called by name. */
type Target = Record<string, unknown>

const targets = new Map<string, Target>()
/** A control call's deadline: controls answer at once, unless the owning process hangs. */
const CALL_TIMEOUT_MS = 30_000
let started: Promise<ControlAddress> | undefined

/**
 * Exposes `target` to other processes under `id` and returns this process's control address.
 * The control server is a tiny HTTP server on loopback, started once per process and
 * `unref()`ed; a random secret keeps other local users out. This is how a test file drives a
 * fault proxy that lives in the vitest global-setup process.
 */
export async function exposeForControl(id: string, target: Target): Promise<ControlAddress> {
  targets.set(id, target)
  started ??= listen()
  return started
}

/** Stops exposing `id`. */
export function withdrawFromControl(id: string): void {
  targets.delete(id)
}

function listen(): Promise<ControlAddress> {
  const secret = randomBytes(16).toString('hex')
  const server: Server = createServer(async (request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    if (request.headers.authorization !== `Bearer ${secret}`) return reply(403, {})
    let body = ''
    for await (const chunk of request) body += chunk
    const { id, method, args } = JSON.parse(body) as { id: string; method: string; args: unknown[] }
    const target = targets.get(id)
    const fn = target?.[method]
    if (typeof fn !== 'function') {
      return reply(404, { code: 'CONTROL_TARGET_GONE', message: `${id} has no control ${method}` })
    }
    try {
      reply(200, { value: (await fn.apply(target, args)) ?? null })
    } catch (error) {
      const { code = 'SERVER_COMMAND_FAILED', message = String(error) } = error as TestServerError
      reply(500, { code, message })
    }
  })
  server.unref()
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}/`, secret })
    })
  })
}

/**
 * Calls `method` of the object exposed as `id` at `address`, from any process. A failure on
 * the other side comes back as a `TestServerError` with the same code and message.
 */
export async function callControl<T>(
  address: ControlAddress,
  id: string,
  method: string,
  args: readonly unknown[] = [],
): Promise<T> {
  let response: Response
  try {
    response = await fetch(address.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${address.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, method, args }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    })
  } catch (error) {
    throw new TestServerError(
      'CONTROL_UNREACHABLE',
      `the process that owns ${id} did not answer at ${address.url} within ${CALL_TIMEOUT_MS / 1000} s (has it exited?)`,
      { cause: error },
    )
  }
  const body = (await response.json()) as { value?: T; code?: string; message?: string }
  if (response.ok) return body.value as T
  throw new TestServerError(
    body.code ?? 'SERVER_COMMAND_FAILED',
    body.message ?? `${method} failed`,
  )
}
