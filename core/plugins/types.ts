/**
 * `bootpolicy/plugin`: the types a plugin author writes against. See docs/reference/plugins.md
 * and docs/reference/hooks.md.
 *
 * A plugin module default-exports a factory `(options) => plugin`. The host validates the options
 * against `plugin.schema` (all violations at once, defaults filled in) before `setup` runs.
 */
import type { StateBackend } from '../state/state-backend.js'
import type { Logger } from 'pino'
import type { AuthState, BootContext, Credentials, Principal } from '../context/types.js'
import type { Decision } from '../decision/types.js'
import type { DhcpClientFacts, BootOverride } from '../dhcp/dhcp-service.js'
import type { IpxeScript } from '../ipxe/script-builder.js'
import type { RenderEnv } from '../ipxe/render-decision.js'

export type { CounterWindow, StateBackend, StateListener, VersionedDocument } from '../state/state-backend.js'
export { DOCUMENT_CHANNEL } from '../state/state-backend.js'
export { type WatchedDocument, watchDocument } from '../state/watched-document.js'
export { isStateUnavailable, stateUnavailable } from '../state/state-unavailable.js'
export type { AuthState, BootContext, BootOverride, Credentials, Decision, DhcpClientFacts, IpxeScript, Principal, RenderEnv }
export { BootpolicyError } from '../errors/bp-error.js'
/** Declare a plugin's own error codes and make its errors: see docs/reference/plugins.md, "Error codes". */
export { defineErrors, type PluginErrorSpec, type PluginErrors } from './plugin-errors.js'
import type { PluginErrors } from './plugin-errors.js'
import type { PluginCommand } from './plugin-command.js'
export type { PluginCommand, PluginCommandContext } from './plugin-command.js'
import type { StateImportHook } from './plugin-state-import.js'
export type { ImportedDocument, StateImportContext, StateImportHook } from './plugin-state-import.js'
export { Checker } from '../decision/validate-decision.js'
/** The core's kernel/initrd/boot rendering, for plugin kinds that boot a kernel with extra arguments. */
export { renderBoot } from '../ipxe/render-decision.js'
/** Crash-safe file replacement (temp file, fsync, rename, directory fsync), for plugin state. */
export { writeFileAtomic } from '../state/atomic-file.js'
/** Per-key serialization inside one process (callers of one key in turn, other keys in parallel). */
export { KeyedMutex } from '../state/key-mutex.js'
/** Tell the logger a secret (a generated CHAP secret, say): it is scrubbed from every log line by value; scrubSecrets applies the same to a text a plugin shows (a command's stderr). */
export { registerSecret, scrubSecrets } from '../log/secret-registry.js'
/** The usernames the core accepts (`ctx.auth` and login credentials): auth plugins refuse others before asking a backend. */
export { USERNAME_PATTERN } from '../context/text-fields.js'

/** Where a plugin's hook runs relative to the others of the same hook: rollup's `order`. */
export type HookOrder = 'pre' | 'post'

export type HookSpec<F> =
  | F
  | {
      readonly order?: HookOrder
      readonly handler: F
      /**
       * prepare only: the decision kinds this hook acts on (anywhere in the decision, menus included).
       * The host skips the hook for other decisions, which keeps cached responses cheap.
       */
      readonly kinds?: readonly string[]
    }

/** The outcome of one authenticate hook: a principal, a refusal, or "not mine" (undefined). */
export type AuthResult = { principal: Principal } | { failed: string } | undefined

export interface TransferClient {
  readonly address: string
  readonly port?: number
  /** `tftp` or `http`. */
  readonly protocol: 'tftp' | 'http'
}

/**
 * The closed list of hooks. How plugins combine, per hook:
 * - onRequest: sequential; throwing ends the request with the failsafe (e.g. a rate limit).
 * - enrich: parallel; the returned object becomes `ctx.plugins[<plugin name>]`.
 * - authenticate: sequential; the first principal or refusal wins; undefined passes.
 * - decide: sequential, after the policies passed; the first decision wins.
 * - prepare: sequential; idempotent side effects for the chosen decision (iPXE repeats requests);
 *   may return a replacement decision.
 * - onResponse: parallel; errors are logged, never thrown.
 * - dhcpOffer: sequential; the first override wins.
 * - virtualFile: sequential; the first file wins; served over TFTP and HTTP (/files/…).
 * - onReady / onClose: sequential (onClose in reverse plugin order).
 */
export interface PluginHooks<Facts extends object = object> {
  onRequest?: HookSpec<(ctx: BootContext) => Promise<void>>
  /** Facts may be any object type, an interface included (`Record<string, unknown>` would refuse interfaces). */
  enrich?: HookSpec<(ctx: BootContext) => Promise<Facts | undefined>>
  authenticate?: HookSpec<(ctx: BootContext, credentials: Credentials) => Promise<AuthResult>>
  decide?: HookSpec<(ctx: BootContext) => Promise<Decision | undefined>>
  prepare?: HookSpec<(ctx: BootContext, decision: Decision) => Promise<Decision | undefined>>
  onResponse?: HookSpec<(record: object) => Promise<void>>
  dhcpOffer?: HookSpec<(facts: DhcpClientFacts) => Promise<BootOverride | undefined>>
  virtualFile?: HookSpec<(path: string, client: TransferClient) => Promise<Buffer | undefined>>
  onReady?: HookSpec<() => Promise<void>>
  onClose?: HookSpec<() => Promise<void>>
}

export type HookName = keyof PluginHooks

/**
 * A decision kind a plugin adds, named `<plugin>.<kind>` (e.g. `smartos.boot`). `D` is the
 * decision's shape: `render` receives it typed, because the host renders a decision only after
 * `validate` found no problem in it.
 */
export interface DecisionKindSpec<D extends { readonly kind: string } = Decision> {
  /** Push one message per problem, with `path` as prefix; use `Checker` for the common checks. */
  validate(decision: Record<string, unknown>, path: string, problems: string[]): void
  /** Emit iPXE through `script`: every value via `script.arg()` or `script.text()`. */
  render(decision: D, script: IpxeScript, env: RenderEnv, failLabel: string): void
}

/** What setup receives. */
export interface PluginApi {
  readonly logger: Logger
  /** A directory for this plugin's persistent state (created on demand). */
  readonly stateDir: string
  /** The /boot path. */
  readonly bootPath: string
  /** The config file's folder: resolve relative paths in options against it. */
  readonly baseDir: string
  /**
   * The state backend shared by replicas (`state.backend`): files in one server, PostgreSQL for
   * several. Keys a plugin writes should start with its name (`<plugin>/…`).
   */
  readonly state: StateBackend
}

export interface BootpolicyPlugin<Facts extends object = object, Kinds extends PluginKinds = PluginKinds> {
  readonly name: string
  readonly version: string
  /** The bootpolicy versions this plugin supports (a semver range, e.g. `^0.1.0`). */
  readonly bootpolicy: string
  /** Plugins that must be loaded before this one. */
  readonly dependencies?: readonly string[]
  /** JSON Schema (draft-07) for the options; validated before setup. */
  readonly schema?: object
  /**
   * Declares that this plugin's onRequest, enrich and decide hooks are pure functions of the
   * request and of this value (e.g. a counter bumped when the plugin's data changes). Then the
   * server keeps memoizing whole responses, keyed by it; without it, any of those hooks turns that
   * cache off. `prepare` hooks run on every request either way.
   */
  revision?(): string
  /** Bounded by the host's setup timeout. */
  setup?(api: PluginApi): Promise<void>
  readonly hooks?: PluginHooks<Facts>
  readonly decisionKinds?: Kinds
  /**
   * Absolute path of a pure module (no Node APIs, no I/O) that policies may import as
   * `bootpolicy/plugins/<name>`; it is bundled into the sandbox. Convention: `policy-helpers.ts`
   * beside the plugin's index (the project's tsconfig maps `bootpolicy/plugins/*` there).
   */
  readonly policyHelpers?: string
  /**
   * The plugin's own error codes, made with `defineErrors`: each code starts with the plugin's
   * namespace (`BP_ERR_<NS>_`, `BPWRN_<NS>_`, `BPSEC_<NS>_`). Refused at load when a code collides
   * with core's catalog or another plugin's. Document each one in the plugin's README.
   */
  readonly errors?: PluginErrors
  /** CLI subcommands: `bootpolicy <name> …` (loaded offline: setup does not run for a command). */
  readonly commands?: Readonly<Record<string, PluginCommand>>
  /**
   * `bootpolicy state import`: the records this plugin keeps in its own files layout, as the
   * documents it keeps on a shared backend (see plugin-state-import.ts). Loaded offline.
   */
  readonly importState?: StateImportHook
  close?(): Promise<void>
}

/** Kind name → its spec. `any` lets each kind keep its own decision shape. */
// biome-ignore lint/suspicious/noExplicitAny: each kind keeps its own decision shape
export type PluginKinds = Readonly<Record<string, DecisionKindSpec<any>>>

export type PluginFactory<Options = Record<string, unknown>, Facts extends object = object, Kinds extends PluginKinds = PluginKinds> = (
  options: Options,
) => BootpolicyPlugin<Facts, Kinds> | Promise<BootpolicyPlugin<Facts, Kinds>>

/**
 * Identity helper that types a factory: `export default definePlugin((options: MyOptions) => ({ … }))`.
 * It infers the enrich facts and each decision kind's shape from what you write, so a kind's
 * `render(decision: MyDecision, …)` needs no cast.
 */
export function definePlugin<Options, Facts extends object = object, Kinds extends PluginKinds = PluginKinds>(factory: PluginFactory<Options, Facts, Kinds>): PluginFactory<Options, Facts, Kinds> {
  return factory
}

/** Types one decision kind: `kind<MyDecision>({ validate, render })`. */
export function defineKind<D extends { readonly kind: string }>(spec: DecisionKindSpec<D>): DecisionKindSpec<D> {
  return spec
}
