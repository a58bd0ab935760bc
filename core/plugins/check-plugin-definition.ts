/**
 * Refuses a malformed plugin definition when it loads, not when a request first reaches it: an
 * unknown top-level key or hook name (a misspelled `enrch` would otherwise never run, silently),
 * a hook that is not a function, a decision kind without validate/render, a command or an error
 * table of the wrong shape. Each refusal names the plugin and the key, with a did-you-mean.
 */
import { closest } from '../text/did-you-mean.js'
import { BootpolicyError } from '../errors/bp-error.js'
import type { BootpolicyPlugin, HookName } from './types.js'

/** Every key a definition may have (types.ts, BootpolicyPlugin). */
export const PLUGIN_KEYS = [
  'name',
  'version',
  'bootpolicy',
  'dependencies',
  'schema',
  'revision',
  'setup',
  'hooks',
  'decisionKinds',
  'policyHelpers',
  'errors',
  'commands',
  'importState',
  'close',
] as const

/** The closed list of hooks (types.ts, PluginHooks). */
export const HOOK_NAMES: readonly HookName[] = ['onRequest', 'enrich', 'authenticate', 'decide', 'prepare', 'onResponse', 'dhcpOffer', 'virtualFile', 'onReady', 'onClose']

const HOOK_SPEC_KEYS = ['order', 'handler', 'kinds']
const KIND_KEYS = ['validate', 'render']
const COMMAND_KEYS = ['summary', 'usage', 'help', 'flags', 'run']
const FLAG = /^[a-z][a-z0-9-]{0,31}$/

export function definitionError(plugin: string, details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_PLUGIN_DEFINITION', { plugin, details })
}

function unknownKey(plugin: string, where: string, key: string, known: readonly string[]): BootpolicyError {
  const hit = closest(key, known)
  return definitionError(plugin, `unknown ${where} "${key}"${hit ? `; did you mean "${hit}"?` : ''} (known: ${known.join(', ')})`)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Throws BP_ERR_PLUGIN_DEFINITION for the first problem. Cross-plugin collisions are the registry's. */
export function checkPluginDefinition(plugin: BootpolicyPlugin): void {
  const name = plugin.name
  for (const key of Object.keys(plugin)) {
    if (!(PLUGIN_KEYS as readonly string[]).includes(key)) throw unknownKey(name, 'key', key, PLUGIN_KEYS)
  }
  for (const key of ['setup', 'close', 'revision', 'importState'] as const) {
    if (plugin[key] !== undefined && typeof plugin[key] !== 'function') throw definitionError(name, `${key} must be a function`)
  }
  if (plugin.hooks !== undefined) {
    if (!isObject(plugin.hooks)) throw definitionError(name, 'hooks must be an object of hook functions')
    for (const [hook, spec] of Object.entries(plugin.hooks)) {
      if (!(HOOK_NAMES as readonly string[]).includes(hook)) throw unknownKey(name, 'hook', hook, HOOK_NAMES)
      checkHookSpec(name, hook, spec)
    }
  }
  if (plugin.decisionKinds !== undefined) {
    if (!isObject(plugin.decisionKinds)) throw definitionError(name, 'decisionKinds must be an object of { validate, render }')
    for (const [kind, spec] of Object.entries(plugin.decisionKinds)) {
      if (!/^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)?$/.test(kind)) throw definitionError(name, `decision kind "${kind}": use lower-case letters, digits and "-" (the host names it ${name}.<kind>)`)
      if (!isObject(spec)) throw definitionError(name, `decision kind "${kind}" must be { validate, render }`)
      for (const key of Object.keys(spec)) if (!KIND_KEYS.includes(key)) throw unknownKey(name, `key of decision kind "${kind}"`, key, KIND_KEYS)
      for (const key of KIND_KEYS) if (typeof spec[key] !== 'function') throw definitionError(name, `decision kind "${kind}" needs a ${key} function`)
    }
  }
  if (plugin.policyHelpers !== undefined && typeof plugin.policyHelpers !== 'string') throw definitionError(name, 'policyHelpers must be the absolute path of a module')
  if (plugin.commands !== undefined) {
    if (!isObject(plugin.commands)) throw definitionError(name, 'commands must be an object of { summary, usage, run }')
    for (const [command, spec] of Object.entries(plugin.commands)) checkCommand(name, command, spec)
  }
  if (plugin.errors !== undefined) {
    const errors = plugin.errors as unknown
    if (!isObject(errors) || typeof errors.namespace !== 'string' || !isObject(errors.codes) || typeof errors.create !== 'function') {
      throw definitionError(name, 'errors must be made with defineErrors(namespace, codes) from bootpolicy/plugin')
    }
  }
}

function checkHookSpec(plugin: string, hook: string, spec: unknown): void {
  if (typeof spec === 'function') return
  if (!isObject(spec)) throw definitionError(plugin, `hook ${hook} must be a function or { handler, order, kinds }`)
  for (const key of Object.keys(spec)) if (!HOOK_SPEC_KEYS.includes(key)) throw unknownKey(plugin, `key of hook ${hook}`, key, HOOK_SPEC_KEYS)
  if (typeof spec.handler !== 'function') throw definitionError(plugin, `hook ${hook} needs a handler function`)
  if (spec.order !== undefined && spec.order !== 'pre' && spec.order !== 'post') throw definitionError(plugin, `hook ${hook}: order must be "pre" or "post"`)
  if (spec.kinds !== undefined && (hook !== 'prepare' || !Array.isArray(spec.kinds) || !spec.kinds.every((k) => typeof k === 'string'))) {
    throw definitionError(plugin, `hook ${hook}: kinds is a list of decision kinds, for prepare only`)
  }
}

function checkCommand(plugin: string, command: string, spec: unknown): void {
  if (!FLAG.test(command)) throw definitionError(plugin, `command "${command}": use lower-case letters, digits and "-"`)
  if (!isObject(spec)) throw definitionError(plugin, `command ${command} must be { summary, usage, run }`)
  for (const key of Object.keys(spec)) if (!COMMAND_KEYS.includes(key)) throw unknownKey(plugin, `key of command ${command}`, key, COMMAND_KEYS)
  if (typeof spec.run !== 'function') throw definitionError(plugin, `command ${command} needs a run function`)
  for (const key of ['summary', 'usage'] as const) if (typeof spec[key] !== 'string') throw definitionError(plugin, `command ${command} needs a ${key} text`)
  if (spec.help !== undefined && typeof spec.help !== 'string') throw definitionError(plugin, `command ${command}: help must be a text`)
  const flags = spec.flags ?? []
  if (!Array.isArray(flags)) throw definitionError(plugin, `command ${command}: flags must be a list of names`)
  for (const flag of flags) {
    if (typeof flag !== 'string' || !FLAG.test(flag) || ['config', 'format', 'help'].includes(flag)) {
      throw definitionError(plugin, `command ${command}: flag ${JSON.stringify(flag)} must be lower-case letters, digits and "-", other than config, format and help`)
    }
  }
}
