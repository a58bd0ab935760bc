/**
 * The configured plugins as the offline commands (`test`, `check`) need them: resolved, version-
 * and options-checked, with their policy helpers and decision kinds, but never set up — no
 * sockets, no state files, no external services touched.
 */
import type { Config } from '../config/config-types.js'
import type { KindValidator } from '../decision/validate-decision.js'
import { createLogger } from '../log/logger.js'
import { defaultImportables, type ImportableModules } from '../policy/compile-policy.js'
import { loadPlugins, type LoadedPlugin } from '../plugins/load-plugins.js'
import { PluginHost } from '../plugins/plugin-host.js'

export interface OfflinePlugins {
  readonly loaded: readonly LoadedPlugin[]
  /** `bootpolicy/policy` plus `bootpolicy/plugins/<name>` of each plugin that ships helpers. */
  readonly importables: ImportableModules
  readonly kinds: ReadonlyMap<string, KindValidator>
}

/** Throws the first plugin's error (BP_ERR_PLUGIN_LOAD, _OPTIONS, _VERSION, _DEPENDENCY). */
export async function loadPluginsOffline(config: Config): Promise<OfflinePlugins> {
  const logger = createLogger('silent')
  const loaded = await loadPlugins(config.plugins, {
    baseDir: config.baseDir, stateDir: config.stateDir, bootPath: config.http.bootPath,
    setupTimeoutMs: config.pluginTimeouts.setupMs, logger, setup: false,
  })
  const host = new PluginHost(loaded.map((l) => l.plugin), { hookTimeoutMs: config.pluginTimeouts.hookMs, logger })
  const helpers = loaded.filter((l) => l.plugin.policyHelpers).map((l) => [`bootpolicy/plugins/${l.plugin.name}`, l.plugin.policyHelpers!] as [string, string])
  return { loaded, importables: defaultImportables(helpers), kinds: host.kindValidators }
}
