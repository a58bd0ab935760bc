/**
 * One case of a policy test file, as data read out of its sandbox: checked field by field (a test
 * file is code too, its values arrive as anything), then turned into the context /boot would build.
 */
import { buildContext, deepFreeze } from '../context/build-context.js'
import type { BootContext, Principal } from '../context/types.js'
import type { Decision } from '../decision/types.js'
import { validateDecision, type KindValidator } from '../decision/validate-decision.js'
import { messageOf } from '../errors/bp-error.js'
import { renderDecision } from '../ipxe/render-decision.js'
import type { IntentFacts } from '../lifecycle/intent-types.js'

export interface TestCase {
  readonly name: string
  readonly request: Readonly<Record<string, string>>
  /** Completed to a Principal: groups default to [], source to `test`. */
  readonly principal?: Principal
  /** ctx.plugins, as the plugins' enrich hooks would have set it. */
  readonly plugins?: Readonly<Record<string, unknown>>
  /** ctx.intent, completed with test values (testIntent). */
  readonly intent?: IntentFacts
  readonly expect: unknown
}

/** A case, or why it cannot run (an ERROR for that case). */
export function readCase(raw: unknown, index: number): TestCase | { readonly problem: string; readonly name: string } {
  const name = isObject(raw) && typeof raw.name === 'string' && raw.name !== '' ? raw.name : `case #${index + 1}`
  if (!isObject(raw)) return { name, problem: 'a case must be an object { name, request, expect }' }
  if (typeof raw.name !== 'string' || raw.name === '') return { name, problem: 'name must be a non-empty string' }
  const request = raw.request ?? {}
  if (!isObject(request) || Object.values(request).some((v) => typeof v !== 'string')) {
    return { name, problem: 'request must be an object of strings (wire names, as /boot receives them)' }
  }
  let principal: Principal | undefined
  if (raw.principal !== undefined) {
    const p = raw.principal
    if (!isObject(p) || typeof p.name !== 'string' || p.name === '') return { name, problem: 'principal.name must be a non-empty string' }
    const groups = p.groups ?? []
    if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) return { name, problem: 'principal.groups must be an array of strings' }
    if (p.source !== undefined && typeof p.source !== 'string') return { name, problem: 'principal.source must be a string' }
    principal = { name: p.name, groups, source: (p.source as string | undefined) ?? 'test' }
  }
  if (raw.plugins !== undefined && !isObject(raw.plugins)) return { name, problem: 'plugins must be an object of plugin name → facts' }
  let intent: IntentFacts | undefined
  if (raw.intent !== undefined) {
    const i = raw.intent
    if (!isObject(i)) return { name, problem: 'intent must be an object, e.g. { profile: "debian-12" }' }
    for (const k of ['profile', 'note', 'setBy', 'expiresAt'] as const) {
      if (i[k] !== undefined && typeof i[k] !== 'string') return { name, problem: `intent.${k} must be a string` }
    }
    if (i.state !== undefined && i.state !== 'armed' && i.state !== 'failed') return { name, problem: 'intent.state is "armed" or "failed"' }
    intent = testIntent(i, request as Record<string, string>)
  }
  if (!('expect' in raw)) return { name, problem: 'expect is missing (use null for "no decision")' }
  return {
    name,
    request: request as Record<string, string>,
    ...(principal && { principal }),
    ...(raw.plugins !== undefined && { plugins: raw.plugins as Record<string, unknown> }),
    ...(intent && { intent }),
    expect: raw.expect,
  }
}

/** The frozen context /boot would hand the policies for this case. */
export function contextForCase(c: Pick<TestCase, 'request' | 'principal' | 'plugins' | 'intent'>): BootContext {
  const { context } = buildContext({ query: new Map(Object.entries(c.request ?? {})), remoteAddress: '192.0.2.1' })
  return deepFreeze({
    ...context,
    ...(c.plugins && { plugins: c.plugins }),
    ...(c.principal && { auth: { status: 'authenticated', username: c.principal.name, principal: c.principal } }),
    ...(c.intent && { intent: c.intent }),
  })
}

/** A case's partial intent, completed: the machine from the request's mac, armed, expiring in an hour. */
function testIntent(i: Record<string, unknown>, request: Record<string, string>): IntentFacts {
  const at = '2030-01-01T00:00:00.000Z'
  return {
    id: 'test-intent',
    machine: request.mac ? { by: 'mac', value: request.mac.toLowerCase() } : { by: 'label', value: 'test' },
    note: '',
    expiresAt: '2030-01-01T01:00:00.000Z',
    setBy: 'test',
    setAt: at,
    state: 'armed',
    ...(i as Partial<IntentFacts>),
  }
}

/** undefined when every field of `expected` deep-equals the same field of `actual`. */
export function partialMismatch(expected: unknown, actual: unknown, path: string): string | undefined {
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
    if (Array.isArray(expected)) {
      if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
    }
    for (const [k, v] of Object.entries(expected)) {
      const m = partialMismatch(v, (actual as Record<string, unknown>)[k], `${path}.${k}`)
      if (m) return m
    }
    return undefined
  }
  return Object.is(expected, actual) ? undefined : `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`
}

/** undefined when the decision is valid and renders; otherwise why not (an ERROR). */
export function checkDecision(result: unknown, ctx: BootContext, kinds: ReadonlyMap<string, KindValidator>, bootPath = '/boot'): string | undefined {
  const checked = validateDecision(result, kinds)
  if (!checked.ok) return `invalid decision: ${checked.problems.join('; ')}`
  // Render as production would, so that a value iPXE cannot take fails here, not at boot.
  // Plugin kinds are rendered by their plugins, which policy tests do not load: they render as nothing.
  const decision = result as Decision
  if (decision.kind === 'template' || decision.kind.includes('.')) return undefined
  try {
    const pluginKinds = new Map([...kinds.keys()].map((k) => [k, () => undefined] as const))
    renderDecision(decision, { context: ctx, bootPath, kinds: pluginKinds })
    return undefined
  } catch (err) {
    return messageOf(err)
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
