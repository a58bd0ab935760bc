/**
 * The configured plugins, loaded the way a front door needs them. `online` (serve, tests of the
 * app): every plugin set up, every hook live. `offline` (`check`, `test`): resolved, version- and
 * options-checked, helpers and decision kinds, never set up and no hook runs — no socket, no
 * state file, no external service touched. `explain`: set up only the plugins whose answer the
 * decision depends on (see `needsSetupToExplain`); the rest are offline.
 */
import type { StateBackend } from '../state/state-backend.js'
import type { SharedLoginLimiter } from '../auth/shared-login-limiter.js'
import type { Logger } from 'pino'
import type { Config } from '../config/config-types.js'
import type { KindValidator } from '../decision/validate-decision.js'
import { noHooks, type RequestHooks } from '../engine/request-hooks.js'
import { createLogger } from '../log/logger.js'
import { defaultImportables, type ImportableModules } from '../policy/compile-policy.js'
import { loadPlugins, type LoadedPlugin } from '../plugins/load-plugins.js'
import { PluginHost } from '../plugins/plugin-host.js'
import { PluginRegistry } from '../plugins/plugin-registry.js'
import type { BootpolicyPlugin } from '../plugins/types.js'

export type PluginMode = 'online' | 'offline' | 'explain'

export interface RuntimePlugins {
  /** Every enabled plugin, in config order (set up or not: see `setUp`). */
  readonly loaded: readonly LoadedPlugin[]
  /** Names of the plugins whose setup ran. */
  readonly setUp: ReadonlySet<string>
  /** The host over the plugins whose hooks are live (offline ones contribute their kinds only). */
  readonly host: PluginHost
  /** What the engine calls: the host, or `noHooks` when no plugin is loaded. */
  readonly hooks: RequestHooks
  /** `bootpolicy/policy` plus `bootpolicy/plugins/<name>` of each plugin that ships helpers. */
  readonly importables: ImportableModules
  readonly kinds: ReadonlyMap<string, KindValidator>
}

export interface RuntimePluginOptions {
  readonly mode?: PluginMode
  readonly logger?: Logger
  /** Extra modules policies may import, by specifier. */
  readonly importables?: Iterable<[string, string]>
  /** Told of every failed or timed-out hook (for /healthz). */
  readonly onHookFailure?: (info: { plugin: string; hook: string; code: string }) => void
  /** Login limits shared by every replica (state.backend postgres). */
  readonly sharedLimiter?: SharedLoginLimiter
  readonly onSharedLimitFailure?: () => void
  /** The runtime's state backend, handed to plugin setups. */
  readonly state?: StateBackend
}

/** Hooks whose result shapes the decision: explain must run them as the server does. */
const DECISION_INPUT_HOOKS = ['onRequest', 'enrich', 'authenticate', 'decide'] as const

/**
 * explain runs no `prepare` (a dry run), serves no file and answers no DHCP. A plugin is set up
 * for it when the decision depends on it (a decision-input hook), or when it adds decision kinds
 * and has no prepare hook (its kinds render from what setup read, as sysresccd's do). A plugin
 * whose work is prepare (provisioning a disk, writing a pxelinux file) is not set up: that work
 * and its setup are the side effects explain avoids.
 */
export function needsSetupToExplain(plugin: BootpolicyPlugin): boolean {
  if (DECISION_INPUT_HOOKS.some((h) => plugin.hooks?.[h])) return true
  return Object.keys(plugin.decisionKinds ?? {}).length > 0 && !plugin.hooks?.prepare
}

/** Throws the first plugin's error (BP_ERR_PLUGIN_LOAD, _OPTIONS, _VERSION, _DEPENDENCY, setup's). */
export async function loadRuntimePlugins(config: Config, options: RuntimePluginOptions = {}): Promise<RuntimePlugins> {
  const mode = options.mode ?? 'online'
  const logger = options.logger ?? (mode === 'online' ? createLogger(config.log.level) : createLogger('silent'))
  const setup = mode === 'online' ? true : mode === 'offline' ? false : needsSetupToExplain
  // Filled once by loadPlugins (which refuses a bad definition before its setup) and reused by the host.
  const registry = new PluginRegistry()
  const loaded = await loadPlugins(config.plugins, {
    registry,
    baseDir: config.baseDir,
    stateDir: config.stateDir,
    bootPath: config.http.bootPath,
    setupTimeoutMs: config.pluginTimeouts.setupMs,
    logger,
    setup,
    ...(options.state && { state: options.state }),
  })
  const setUp = new Set(loaded.filter((l) => setup === true || (typeof setup === 'function' && setup(l.plugin))).map((l) => l.plugin.name))
  // A plugin that was not set up keeps its kinds and helpers; its hooks and close() never run.
  const live = loaded.map((l) => (setUp.has(l.plugin.name) ? l.plugin : kindsOnly(l.plugin)))
  const host = new PluginHost(live, {
    hookTimeoutMs: config.pluginTimeouts.hookMs,
    logger,
    loginLimits: config.auth.limits,
    registry: registry.over(live),
    ...(options.onHookFailure && { onHookFailure: options.onHookFailure }),
    ...(options.sharedLimiter && { sharedLimiter: options.sharedLimiter }),
    ...(options.onSharedLimitFailure && { onSharedLimitFailure: options.onSharedLimitFailure }),
  })
  const helpers: [string, string][] = loaded.filter((l) => l.plugin.policyHelpers).map((l) => [`bootpolicy/plugins/${l.plugin.name}`, l.plugin.policyHelpers!])
  return {
    loaded,
    setUp,
    host,
    hooks: loaded.length ? host : noHooks,
    importables: defaultImportables([...helpers, ...(options.importables ?? [])]),
    kinds: host.kindValidators,
  }
}

function kindsOnly(plugin: BootpolicyPlugin): BootpolicyPlugin {
  return {
    name: plugin.name,
    version: plugin.version,
    bootpolicy: plugin.bootpolicy,
    ...(plugin.dependencies && { dependencies: plugin.dependencies }),
    ...(plugin.decisionKinds && { decisionKinds: plugin.decisionKinds }),
    ...(plugin.policyHelpers && { policyHelpers: plugin.policyHelpers }),
  }
}
