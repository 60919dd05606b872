const actions = new Set<() => void>()
let installed = false

/**
 * Registers a synchronous clean-up to run when the process exits (normally, or on SIGINT /
 * SIGTERM), so no server or temporary directory outlives the test run. Returns the function
 * that unregisters it, for a server stopped the ordinary way.
 */
export function onProcessExit(action: () => void): () => void {
  install()
  actions.add(action)
  return () => actions.delete(action)
}

function runAll(): void {
  for (const action of [...actions].reverse()) {
    try {
      action()
    } catch {
      // Keep cleaning up the rest.
    }
  }
  actions.clear()
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', runAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = () => {
      runAll()
      process.removeListener(signal, handler)
      process.kill(process.pid, signal)
    }
    process.on(signal, handler)
  }
}
