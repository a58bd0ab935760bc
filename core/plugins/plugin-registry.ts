/**
 * What the loaded plugins contribute at load time, gathered in one place: decision kinds (their
 * validators and renderers), policy helper modules, the facts that decide response caching, error
 * codes and CLI commands. Adding a plugin checks its definition and refuses collisions with core
 * and with the plugins added before it, naming both. The plugin host only runs hooks.
 */
import type { KindValidator } from '../decision/validate-decision.js'
import { catalog } from '../errors/catalog.js'
import type { KindRenderer } from '../ipxe/render-decision.js'
import { checkPluginDefinition, definitionError } from './check-plugin-definition.js'
import type { PluginErrorSpec } from './plugin-errors.js'
import type { BootpolicyPlugin, Decision, HookName, PluginCommand, StateImportHook } from './types.js'

/** The CLI's own commands (core/cli/help-text.ts, COMMAND_HELP): a plugin cannot take these names. */
export const CORE_COMMANDS: readonly string[] = ['init', 'serve', 'check', 'test', 'explain', 'cert', 'help']

/** Areas of core's codes (`BP_ERR_<AREA>_…`): a plugin namespace cannot be one of them. */
const CORE_AREAS = new Set(Object.keys(catalog).flatMap((c) => /^BP_ERR_([A-Z]+)_/.exec(c)?.[1] ?? []))

/** Hooks whose results shape the decision: a plugin with one of them must declare a revision to keep responses cacheable. */
const DECISION_INPUT_HOOKS: readonly HookName[] = ['onRequest', 'enrich', 'decide']

export interface RegisteredError {
  readonly plugin: string
  readonly spec: PluginErrorSpec
}

export interface RegisteredCommand {
  readonly plugin: string
  readonly name: string
  readonly command: PluginCommand
}

export class PluginRegistry {
  readonly plugins: BootpolicyPlugin[] = []
  readonly kindValidators = new Map<string, KindValidator>()
  readonly kindRenderers = new Map<string, KindRenderer>()
  /** `bootpolicy/plugins/<name>` → module file, for the policy bundler. */
  readonly policyHelpers: [string, string][] = []
  readonly errors = new Map<string, RegisteredError>()
  readonly commands = new Map<string, RegisteredCommand>()
  /** Plugins' parts of `bootpolicy state import`, in load order. */
  readonly stateImports: { readonly plugin: string; readonly run: StateImportHook }[] = []
  private readonly kindOwners = new Map<string, string>()
  private readonly namespaces = new Map<string, string>()

  static of(plugins: readonly BootpolicyPlugin[]): PluginRegistry {
    const registry = new PluginRegistry()
    for (const p of plugins) registry.add(p)
    return registry
  }

  /** The same contributions over stand-ins of the same plugins (kinds-only ones): nothing is checked or compiled again. */
  over(plugins: readonly BootpolicyPlugin[]): PluginRegistry {
    if (plugins.length !== this.plugins.length || plugins.some((p, i) => p.name !== this.plugins[i]!.name)) throw new Error('PluginRegistry.over: not the registered plugins')
    return Object.assign(Object.create(PluginRegistry.prototype) as PluginRegistry, this, { plugins: [...plugins] })
  }

  /** Checks then registers; throws BP_ERR_PLUGIN_DEFINITION and registers nothing of a refused plugin. */
  add(plugin: BootpolicyPlugin): void {
    checkPluginDefinition(plugin)
    const name = plugin.name
    if (this.plugins.some((p) => p.name === name)) throw definitionError(name, 'a plugin of this name is already loaded (each name has one ctx.plugins slot)')
    const kinds = Object.entries(plugin.decisionKinds ?? {}).map(([kind, spec]) => [kind.includes('.') ? kind : `${name}.${kind}`, spec] as const)
    for (const [kind] of kinds) {
      const owner = this.kindOwners.get(kind)
      if (owner) throw definitionError(name, `decision kind ${kind} is already contributed by plugin ${owner}`)
    }
    const codes = this.checkErrors(plugin)
    const commands = Object.entries(plugin.commands ?? {})
    for (const [command] of commands) {
      if (CORE_COMMANDS.includes(command)) throw definitionError(name, `command "${command}" is a bootpolicy command`)
      const other = this.commands.get(command)
      if (other) throw definitionError(name, `command "${command}" is already contributed by plugin ${other.plugin}`)
    }

    this.plugins.push(plugin)
    for (const [kind, spec] of kinds) {
      this.kindOwners.set(kind, name)
      this.kindValidators.set(kind, (d, path, problems) => spec.validate(d, path, problems))
      // Rendered only after validate passed for this kind, so the plugin's own shape holds.
      this.kindRenderers.set(kind, (d: Decision, s, env, fail) => spec.render(d, s, env, fail))
    }
    if (plugin.policyHelpers) this.policyHelpers.push([`bootpolicy/plugins/${name}`, plugin.policyHelpers])
    if (plugin.errors) this.namespaces.set(plugin.errors.namespace, name)
    for (const [code, spec] of codes) this.errors.set(code, { plugin: name, spec })
    for (const [command, spec] of commands) this.commands.set(command, { plugin: name, name: command, command: spec })
    if (plugin.importState) this.stateImports.push({ plugin: name, run: plugin.importState })
  }

  private checkErrors(plugin: BootpolicyPlugin): [string, PluginErrorSpec][] {
    if (!plugin.errors) return []
    const { name } = plugin
    const { namespace, codes } = plugin.errors
    if (!/^[A-Z][A-Z0-9]{1,15}$/.test(namespace)) throw definitionError(name, `error namespace "${namespace}": 2–16 upper-case letters and digits, starting with a letter`)
    if (CORE_AREAS.has(namespace)) throw definitionError(name, `error namespace ${namespace} is core's (BP_ERR_${namespace}_…)`)
    const holder = this.namespaces.get(namespace)
    if (holder) throw definitionError(name, `error namespace ${namespace} is already plugin ${holder}'s`)
    const shape = new RegExp(`^(BP_ERR|BPWRN|BPSEC)_${namespace}_[A-Z0-9]+(_[A-Z0-9]+)*$`)
    const entries = Object.entries(codes)
    for (const [code, spec] of entries) {
      if (Object.hasOwn(catalog, code)) throw definitionError(name, `error code ${code} is a core code`)
      const owner = this.errors.get(code)
      if (owner) throw definitionError(name, `error code ${code} is already plugin ${owner.plugin}'s`)
      if (!shape.test(code)) throw definitionError(name, `error code ${code} must start with BP_ERR_${namespace}_, BPWRN_${namespace}_ or BPSEC_${namespace}_ (upper-case words joined by _)`)
      const s = spec as Partial<Record<keyof PluginErrorSpec, unknown>>
      for (const key of ['message', 'when', 'fix'] as const) {
        if (typeof s[key] !== 'string' || (s[key] as string).trim() === '') throw definitionError(name, `error code ${code} needs a ${key} text`)
      }
      if (s.status !== undefined && !(Number.isInteger(s.status) && (s.status as number) >= 400 && (s.status as number) <= 599)) {
        throw definitionError(name, `error code ${code}: status must be an HTTP error status (400–599)`)
      }
    }
    return entries
  }

  /**
   * True when every plugin with an onRequest, enrich or decide hook declares a revision: whole
   * responses may then be memoized (see RequestHooks.cacheable).
   */
  get cacheable(): boolean {
    return this.plugins.every((p) => typeof p.revision === 'function' || !DECISION_INPUT_HOOKS.some((h) => p.hooks?.[h]))
  }

  get hasPrepare(): boolean {
    return this.plugins.some((p) => p.hooks?.prepare)
  }

  /** The declared revisions, part of the whole-response cache key. */
  revision(): string {
    return this.plugins
      .filter((p) => typeof p.revision === 'function')
      .map((p) => `${p.name}@${p.revision!()}`)
      .join(',')
  }
}
