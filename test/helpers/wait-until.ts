/**
 * Polls `check` until it holds or `ms` pass, and says which: for tests that wait on a condition
 * instead of a sleep, then assert on it (the assertion, not a timeout error, tells what was late).
 */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
