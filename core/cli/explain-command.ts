/**
 * bootpolicy explain --mac … : the decision, the rendered script and the trace for one client.
 * It runs over the runtime alone (no fastify, no port) with plugins in `explain` mode: only the
 * plugins the decision depends on are set up (core/runtime/runtime-plugins.ts), and no `prepare`
 * side effect runs (a dry run).
 */
import type { Config } from '../config/config-types.js'
import { toQuery } from '../context/to-query.js'
import { createLogger } from '../log/logger.js'
import { createRuntime } from '../runtime/create-runtime.js'
import { droppedReason } from '../context/dropped-reasons.js'
import { terminalSafe } from '../text/terminal-safe.js'

export async function explainCommand(config: Config, flags: Record<string, string | true>, format: 'text' | 'json'): Promise<number> {
  const fields: Record<string, string> = {}
  for (const [k, v] of Object.entries(flags)) {
    if (k === 'config' || k === 'format' || typeof v !== 'string') continue
    if (k === 'param') {
      const [name, ...value] = v.split('=')
      fields[name!] = value.join('=')
    } else fields[k] = v
  }
  const runtime = await createRuntime(config, { logger: createLogger('silent'), plugins: 'explain', watch: false, readOnly: true })
  try {
    const result = await runtime.engine.handle({ query: toQuery(fields), remoteAddress: '127.0.0.1', requestId: 'explain', dryRun: true })
    const dropped = result.record.context.dropped.map((field) => ({ field, reason: droppedReason(field) }))
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify({ decision: result.decision, record: result.record, dropped, script: result.script }, null, 2)}\n`)
    } else {
      const r = result.record
      process.stdout.write(`decided by: ${r.decidedBy}\nkind: ${r.kind}\ndecision: ${r.summary}\n`)
      for (const d of dropped) process.stdout.write(`dropped: ${d.field} — ${d.reason}\n`)
      for (const s of r.policies) {
        process.stdout.write(`  ${s.outcome.padEnd(7)} ${s.policy}${s.rev ? `@${s.rev}` : ''}${s.message ? ` — ${s.message}` : ''} (${s.us} µs)\n`)
        for (const line of s.prints ?? []) process.stdout.write(`          print: ${terminalSafe(line)}\n`)
      }
      if (r.error) process.stdout.write(`error: ${r.error.code}: ${r.error.message}\n`)
      process.stdout.write(`\n${result.script}`)
    }
    return result.record.error ? 1 : 0
  } finally {
    await runtime.close()
  }
}
