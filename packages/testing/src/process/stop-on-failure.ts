/**
 * Runs the steps that start a fixture and returns what they return; when a step fails, stops
 * what was already started before rethrowing, so a half-started fixture leaves no server, port
 * or directory behind. The step's error is the one rethrown: a failure while stopping must not
 * hide why the start failed (the process-exit clean-up still catches what `stop` missed).
 */
export async function stopOnFailure<T>(
  stop: () => Promise<unknown>,
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start()
  } catch (error) {
    await stop().catch(() => undefined)
    throw error
  }
}
