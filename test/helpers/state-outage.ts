/**
 * Assertions for the /boot state failsafe (core/engine/state-failsafe.ts), shared by the core test
 * and the plugins' outage tests: the retry script checked command by command through the iPXE
 * tokenizer, the `what="boot"` counter, the outage's error line, and a poll with a generous bound.
 */
import type { Test } from 'tap'
import type { Metrics } from '../../core/metrics/metrics.js'
import { parseScript } from './ipxe-tokenize.js'

export const STATE_FAILSAFE_LOG = 'boots that need shared state get the retry failsafe: state unreachable'

/** `bootpolicy_state_unavailable_total{what="boot"}` as /metrics shows it. */
export function refusedBoots(metrics: Metrics): number {
  const line = metrics
    .render()
    .split('\n')
    .find((l) => l.startsWith('bootpolicy_state_unavailable_total{what="boot"}'))
  return line ? Number(line.split(' ').pop()) : 0
}

export async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((res) => setTimeout(res, 20))
  }
}

/** The failsafe's commands: the two messages, the wait, the retry chain back to /boot, the loop. Returns the retry URL. */
export function assertStateFailsafe(t: Test, script: string, mac: string): string {
  // After a request with credentials, iPXE's copies are cleared first (engine.ts withRequestId).
  t.match(script, /^#!ipxe\nset bp-req [A-Za-z0-9_-]+\n(clear username\nclear password\n)?:bp_state_retry\n/, 'header, request id, retry label')
  const parsed = parseScript(script)
  t.same(parsed.labels, ['bp_state_retry'])
  // `set bpvN:hex` lines carry escaped values (script-builder.ts); the tokenizer expands them.
  const commands = parsed.commands.filter((c) => !(c.argv[0] === 'set' && /^bpv\d+:hex$/.test(c.argv[1] ?? '')) && c.argv[0] !== 'clear')
  t.same(
    commands.map((c) => c.argv[0]),
    ['set', 'echo', 'echo', 'sleep', 'chain', 'goto'],
    'only these commands',
  )
  t.equal(commands[1]!.argv.slice(1).join(' '), 'bootpolicy: this boot needs the shared state database, which cannot be reached right now.')
  t.match(commands[2]!.argv.slice(1).join(' '), /^bootpolicy: no decision is made without it, asking again in (\d+) seconds \(request [A-Za-z0-9_-]+\)$/)
  const seconds = Number(commands[3]!.argv[1])
  t.ok(seconds >= 10 && seconds <= 30, `waits 10..30 s (${seconds})`)
  t.ok(commands[2]!.argv.includes(String(seconds)), 'says how long')
  t.same(commands[4]!.options, ['--replace', '--autofree'])
  const url = commands[4]!.args[0]!
  t.match(url, new RegExp(`^/boot\\?mac=${mac.replaceAll(':', '-')}(&|$)`), 'retries /boot with the same identity')
  t.same(commands[5]!.args, ['bp_state_retry'], 'a failed retry waits and tries again, never the next boot device')
  return url
}
