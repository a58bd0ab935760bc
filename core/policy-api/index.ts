/**
 * `bootpolicy/policy`: what a policy file may import. Pure helpers that build decisions, plus the
 * types. This module is bundled into every policy and runs inside the sandbox: it must stay free
 * of Node APIs, I/O and global state.
 */
import type {
  AgainDecision,
  BootDecision,
  ChainDecision,
  Decision,
  ExitDecision,
  LoginDecision,
  MenuDecision,
  MenuEntry,
  MenuGap,
  MenuItem,
  RebootDecision,
  SanbootDecision,
  ShellDecision,
  TemplateDecision,
} from '../decision/types.js'
import type { Arch, AuthState, BootContext, PluginFacts, Principal } from '../context/types.js'
import type { IntentFacts, MachineKey } from '../lifecycle/intent-types.js'

export type {
  AgainDecision,
  Arch,
  AuthState,
  BootContext,
  BootDecision,
  ChainDecision,
  Decision,
  ExitDecision,
  IntentFacts,
  LoginDecision,
  MachineKey,
  MenuDecision,
  MenuEntry,
  MenuGap,
  MenuItem,
  PluginFacts,
  Principal,
  RebootDecision,
  SanbootDecision,
  ShellDecision,
  TemplateDecision,
}

/** The signature of a policy's default export. Return undefined to let the next policy decide. */
export type Policy = (ctx: BootContext) => Decision | undefined

/** Identity helper that gives a policy function its type: `export default policy((ctx) => …)`. */
export function policy(fn: Policy): Policy {
  return fn
}

export function boot(kernel: string, options: { initrds?: string[]; args?: string[]; modules?: string[]; message?: string } = {}): BootDecision {
  return { kind: 'boot', kernel, ...options }
}

export function menu(options: { title?: string; items: MenuEntry[]; default?: string; timeoutMs?: number }): MenuDecision {
  return { kind: 'menu', ...options }
}

export function item(id: string, text: string, action: Decision, options: { key?: string } = {}): MenuItem {
  return { id, text, action, ...options }
}

/** A heading or separator line; `gap()` is an empty line. */
export function gap(text = ''): MenuGap {
  return { gap: text }
}

export function chain(url: string): ChainDecision {
  return { kind: 'chain', url }
}

/** Come back to /boot with these extra parameters (they appear as `ctx.params`). */
export function again(params: Record<string, string>): AgainDecision {
  return { kind: 'again', params }
}

export function sanboot(uri: string, options: { initiatorIqn?: string; noDescribe?: boolean } = {}): SanbootDecision {
  return { kind: 'sanboot', uri, ...options }
}

/**
 * An iSCSI SAN URI: `iscsi:<server>:<protocol>:<port>:<lun>:<iqn>`. The LUN defaults to 1:
 * an empty LUN means 0, which on tgtd is the controller, not a disk.
 */
export function iscsiUri(target: { server: string; iqn: string; port?: number; lun?: number }): string {
  return `iscsi:${target.server}::${target.port ?? ''}:${target.lun ?? 1}:${target.iqn}`
}

/** Ask for credentials, then come back with them and `params`; see ctx.auth on the way back. */
export function login(options: { params?: Record<string, string>; message?: string } = {}): LoginDecision {
  return { kind: 'login', ...options }
}

export function template(name: string, vars: Record<string, unknown> = {}): TemplateDecision {
  return { kind: 'template', name, vars }
}

/** Leave iPXE; the firmware boots its next device (usually the local disk). */
export function exit(message?: string): ExitDecision {
  return message === undefined ? { kind: 'exit' } : { kind: 'exit', message }
}

export function shell(message?: string): ShellDecision {
  return message === undefined ? { kind: 'shell' } : { kind: 'shell', message }
}

export function reboot(): RebootDecision {
  return { kind: 'reboot' }
}

/** True when the client runs UEFI firmware. */
export function isEfi(ctx: BootContext): boolean {
  return ctx.arch.endsWith('-efi')
}

/** Normalize a MAC written by an admin (any case, `-` or `:`) to the context's form. */
export function mac(text: string): string {
  const hex = text.toLowerCase().replace(/[^0-9a-f]/g, '')
  return hex.length === 12 ? hex.match(/../g)!.join(':') : text.toLowerCase()
}

/**
 * Where the installer token goes: write it into a kernel argument, a URL or a template, e.g.
 * `boot(kernel, { args: [`bp.token=${INTENT_TOKEN}`] })`. The server replaces it in the finished
 * script with a fresh single-use token when the boot is under an intent (ctx.intent), and with
 * nothing otherwise; explain and `bootpolicy test` leave it as it is. The token is never in ctx.
 */
export const INTENT_TOKEN = '@bp-intent-token@'

/** One case of a policy test file (`<policy>.test.ts`, default export `cases([...])`). */
export interface PolicyTestCase {
  readonly name: string
  /** The request as /boot would receive it: wire names (`mac`, `buildarch`, `serial`, …, or `arch`). */
  readonly request: Readonly<Record<string, string>>
  /**
   * Pretend an authenticate hook accepted this principal: ctx.auth becomes
   * `{ status: 'authenticated', username: name, principal }`. `groups` defaults to [], `source` to `test`.
   */
  readonly principal?: { readonly name: string; readonly groups?: readonly string[]; readonly source?: string }
  /** ctx.plugins as the plugins' enrich hooks would set it, e.g. `{ ldap: { groups: ['lab'] } }`. */
  readonly plugins?: Readonly<Partial<PluginFacts> & Record<string, unknown>>
  /**
   * ctx.intent as an armed intent would set it: `{ profile: 'debian-12' }` is enough (the other
   * fields get test values: machine from the request's mac, state `armed`, an expiry an hour ahead).
   */
  readonly intent?: Partial<IntentFacts>
  /**
   * What the policy must return: `undefined`/`null` for "no decision", or a partial decision
   * that must match (every given field deeply equal).
   */
  readonly expect: Partial<Decision> | Record<string, unknown> | null
}

/** One case of a chain test: the whole chain runs, as /boot runs it. */
export interface ChainTestCase extends Omit<PolicyTestCase, 'expect'> {
  /**
   * Who decides (`policy:<file>`; `default` when no policy decides; `failsafe` after a failure
   * under policies.onError `failsafe`) and, optionally, a partial decision that must match.
   */
  readonly expect: { readonly decidedBy?: string; readonly decision?: Partial<Decision> | Record<string, unknown> }
}

export interface ChainTests {
  readonly chain: readonly ChainTestCase[]
}

export function cases(list: PolicyTestCase[]): PolicyTestCase[] {
  return list
}

/** The default export of a chain test file (any `*.test.ts`, e.g. `chain.test.ts`). */
cases.chain = function chainCases(list: ChainTestCase[]): ChainTests {
  return { chain: list }
}

/**
 * Debug output, like OPA's print: `bootpolicy test` shows the lines under a failing case (all of
 * them with --verbose) and explain adds them to the trace. Values are serialized inside the
 * sandbox: at most 50 lines per call of the policy, 1000 characters each. On a real /boot it does
 * nothing (the values are not even serialized).
 */
export function print(...values: unknown[]): void {
  const sink = (globalThis as { __bootpolicy_print?: (...v: unknown[]) => void }).__bootpolicy_print
  if (typeof sink === 'function') Reflect.apply(sink, undefined, values)
}
