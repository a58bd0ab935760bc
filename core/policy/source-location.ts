/** Map a position in compiled policy code back to `file.ts:line` with the esbuild source map. */
import { SourceMapConsumer } from 'source-map-js'
import type { CompiledPolicy } from './compile-policy.js'
import { escapeRegExp } from '../text/escape-regexp.js'

const consumers = new WeakMap<CompiledPolicy, SourceMapConsumer>()

function consumerFor(policy: CompiledPolicy): SourceMapConsumer {
  let c = consumers.get(policy)
  if (!c) {
    c = new SourceMapConsumer(JSON.parse(policy.map))
    consumers.set(policy, c)
  }
  return c
}

/** `line`/`column` are 1-based positions in the compiled code. */
export function originalLocation(policy: CompiledPolicy, line: number, column: number): string {
  const pos = consumerFor(policy).originalPositionFor({ line, column: Math.max(0, column - 1) })
  if (pos.source && pos.line) return `${pos.source}:${pos.line}`
  return `${policy.name}`
}

/** Find the first frame of the compiled policy in an isolate stack trace and map it. */
export function locationFromStack(policy: CompiledPolicy, stack: string | undefined): string {
  if (stack) {
    const re = new RegExp(`${escapeRegExp(policy.name)}\\.js:(\\d+):(\\d+)`)
    const m = re.exec(stack)
    if (m) return originalLocation(policy, Number(m[1]), Number(m[2]))
  }
  return policy.name
}
