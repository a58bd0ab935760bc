/**
 * Structural validation of decisions that come out of the sandbox (or a plugin).
 * A policy may return anything; this turns "anything" into a Decision or a list of
 * path-precise problems. Value safety (whitespace, `${`) is the renderer's job.
 * The walk is bounded (decision-budget.ts): each object is visited once, a shared object or more
 * than MAX_DECISION_NODES objects stop it at once, so no input costs more than the budget.
 */
import type { ErrorCode } from '../errors/catalog.js'
import { DecisionBudget, exceedsBudget, MAX_MENU_DEPTH } from './decision-budget.js'
import type { Decision } from './types.js'

export { MAX_DECISION_NODES, MAX_MENU_DEPTH } from './decision-budget.js'
export const MAX_MENU_ITEMS = 200
export const MAX_ARGS = 128
export const MAX_STRING = 2048
export const ITEM_ID = /^[A-Za-z0-9_-]{1,32}$/
export const PARAM_NAME = /^[a-z][a-z0-9_-]{0,31}$/

export type KindValidator = (decision: Record<string, unknown>, path: string, problems: string[]) => void

/** Where plugin kinds' validators are found: a map, or a lookup (the policy worker defers them, worker-decision.ts). */
export type KindValidators = Pick<ReadonlyMap<string, KindValidator>, 'get'>

type Obj = Record<string, unknown>

export type ValidationResult =
  | { ok: true; decision: Decision }
  /** `code` is set when the walk stopped at a budget: the decision was refused without being expanded. */
  | { ok: false; problems: string[]; code?: Extract<ErrorCode, 'BP_ERR_DECISION_TOO_LARGE' | 'BP_ERR_DECISION_SHARED_OBJECT'> }

/** Thrown inside the walk to stop it at once; never leaves this module. */
class Stop {
  constructor(readonly code: 'BP_ERR_DECISION_TOO_LARGE' | 'BP_ERR_DECISION_SHARED_OBJECT') {}
}

export function validateDecision(value: unknown, pluginKinds: KindValidators = new Map(), budget: DecisionBudget = new DecisionBudget()): ValidationResult {
  // A cheap walk first: a DAG, a huge or a too deep decision is refused before any field is checked.
  const stop = exceedsBudget(value, budget)
  if (stop) return refused(stop.verdict, stop.path, budget.limit)
  const problems: string[] = []
  const walk: Walk = { problems, pluginKinds, budget: new DecisionBudget(budget.limit) }
  try {
    check(value, '$', 0, walk)
  } catch (err) {
    if (err instanceof Stop) return { ok: false, problems, code: err.code }
    throw err
  }
  return problems.length === 0 ? { ok: true, decision: value as Decision } : { ok: false, problems }
}

function refused(verdict: 'shared' | 'over' | 'deep', path: string, limit: number): ValidationResult {
  if (verdict === 'shared') {
    return { ok: false, code: 'BP_ERR_DECISION_SHARED_OBJECT', problems: [`${path}: the same object appears twice in the decision; build each part separately (BP_ERR_DECISION_SHARED_OBJECT)`] }
  }
  if (verdict === 'deep') return { ok: false, code: 'BP_ERR_DECISION_TOO_LARGE', problems: [`${path}: menus nest deeper than ${MAX_MENU_DEPTH} (BP_ERR_DECISION_TOO_LARGE)`] }
  return { ok: false, code: 'BP_ERR_DECISION_TOO_LARGE', problems: [`${path}: the decision has more than ${limit} objects (BP_ERR_DECISION_TOO_LARGE)`] }
}

interface Walk {
  readonly problems: string[]
  readonly pluginKinds: KindValidators
  readonly budget: DecisionBudget
}

/** Counts an object or array; a shared one or one past the budget ends validation. */
function visit(value: object, path: string, walk: Walk): void {
  const verdict = walk.budget.visit(value)
  if (verdict === 'shared') {
    walk.problems.push(`${path}: the same object appears twice in the decision; build each part separately (BP_ERR_DECISION_SHARED_OBJECT)`)
    throw new Stop('BP_ERR_DECISION_SHARED_OBJECT')
  }
  if (verdict === 'over') {
    walk.problems.push(`${path}: the decision has more than ${walk.budget.limit} objects (BP_ERR_DECISION_TOO_LARGE)`)
    throw new Stop('BP_ERR_DECISION_TOO_LARGE')
  }
}

function check(value: unknown, path: string, depth: number, walk: Walk): void {
  const { problems, pluginKinds } = walk
  if (!isObj(value)) {
    problems.push(`${path}: expected a decision object, got ${describe(value)}`)
    return
  }
  visit(value, path, walk)
  const kind = value.kind
  if (typeof kind !== 'string') {
    problems.push(`${path}.kind: expected a string`)
    return
  }
  const v = new Checker(value, path, problems)
  switch (kind) {
    case 'boot':
      v.string('kernel', true)
      v.stringArray('initrds', MAX_ARGS)
      v.stringArray('args', MAX_ARGS)
      v.stringArray('modules', MAX_ARGS)
      v.string('message')
      v.only('kernel', 'initrds', 'args', 'modules', 'message')
      return
    case 'menu': {
      v.string('title')
      v.number('timeoutMs', 0, 3_600_000)
      v.string('default')
      v.only('title', 'items', 'default', 'timeoutMs')
      if (depth >= MAX_MENU_DEPTH) problems.push(`${path}: menus nest deeper than ${MAX_MENU_DEPTH}`)
      const items = value.items
      if (!Array.isArray(items) || items.length === 0 || items.length > MAX_MENU_ITEMS) {
        problems.push(`${path}.items: expected 1..${MAX_MENU_ITEMS} entries`)
        return
      }
      visit(items, `${path}.items`, walk)
      const ids = new Set<string>()
      items.forEach((item: unknown, i) => {
        const p = `${path}.items[${i}]`
        if (!isObj(item)) return void problems.push(`${p}: expected an item or a gap`)
        visit(item, p, walk)
        if ('gap' in item) {
          if (typeof item.gap !== 'string' || item.gap.length > MAX_STRING) problems.push(`${p}.gap: expected a string`)
          return
        }
        const iv = new Checker(item, p, problems)
        iv.string('text', true)
        iv.string('key')
        iv.only('id', 'text', 'key', 'action')
        if (typeof item.id !== 'string' || !ITEM_ID.test(item.id)) problems.push(`${p}.id: expected 1-32 of A-Z a-z 0-9 _ -`)
        else if (ids.has(item.id)) problems.push(`${p}.id: duplicate id "${item.id}"`)
        else ids.add(item.id)
        if (typeof item.key === 'string' && !/^[A-Za-z0-9]$/.test(item.key)) problems.push(`${p}.key: expected one letter or digit`)
        check(item.action, `${p}.action`, depth + 1, walk)
      })
      if (typeof value.default === 'string' && !ids.has(value.default)) {
        problems.push(`${path}.default: no item has id "${value.default}"`)
      }
      return
    }
    case 'chain':
      v.string('url', true)
      v.only('url')
      return
    case 'again':
      v.params('params', true)
      v.only('params')
      return
    case 'sanboot':
      v.string('uri', true)
      v.string('initiatorIqn')
      v.boolean('noDescribe')
      v.only('uri', 'initiatorIqn', 'noDescribe')
      return
    case 'login':
      v.params('params', false)
      v.string('message')
      v.only('params', 'message')
      return
    case 'template':
      if (depth > 0) problems.push(`${path}: a template is a whole script; it cannot be a menu action`)
      v.string('name', true)
      if (typeof value.name === 'string' && !/^[A-Za-z0-9_-][A-Za-z0-9_./-]{0,127}$/.test(value.name)) {
        problems.push(`${path}.name: expected a template name (letters, digits, _ - . /)`)
      } else if (typeof value.name === 'string' && value.name.split('/').includes('..')) {
        problems.push(`${path}.name: must not contain ..`)
      }
      if (value.vars !== undefined && !isObj(value.vars)) problems.push(`${path}.vars: expected an object`)
      v.only('name', 'vars')
      return
    case 'exit':
    case 'shell':
      v.string('message')
      v.only('message')
      return
    case 'reboot':
      v.only()
      return
    default: {
      const plugin = pluginKinds.get(kind)
      if (plugin) plugin(value, path, problems)
      else problems.push(`${path}.kind: unknown decision kind "${kind}"`)
    }
  }
}

/** Small field checker that records every problem instead of stopping at the first. */
export class Checker {
  constructor(
    private readonly obj: Obj,
    private readonly path: string,
    private readonly problems: string[],
  ) {}

  string(field: string, required = false): void {
    const val = this.obj[field]
    if (val === undefined) {
      if (required) this.problems.push(`${this.path}.${field}: required`)
    } else if (typeof val !== 'string' || (required && val === '')) {
      this.problems.push(`${this.path}.${field}: expected a${required ? ' non-empty' : ''} string`)
    } else if (val.length > MAX_STRING) {
      this.problems.push(`${this.path}.${field}: longer than ${MAX_STRING} characters`)
    }
  }

  stringArray(field: string, max: number, required = false): void {
    const val = this.obj[field]
    if (val === undefined) {
      if (required) this.problems.push(`${this.path}.${field}: required`)
      return
    }
    if (!Array.isArray(val) || val.length > max || val.some((s) => typeof s !== 'string' || s.length > MAX_STRING)) {
      this.problems.push(`${this.path}.${field}: expected at most ${max} strings`)
    }
  }

  number(field: string, min: number, max: number): void {
    const val = this.obj[field]
    if (val !== undefined && (typeof val !== 'number' || !Number.isInteger(val) || val < min || val > max)) {
      this.problems.push(`${this.path}.${field}: expected an integer ${min}..${max}`)
    }
  }

  boolean(field: string): void {
    const val = this.obj[field]
    if (val !== undefined && typeof val !== 'boolean') this.problems.push(`${this.path}.${field}: expected a boolean`)
  }

  params(field: string, required: boolean): void {
    const val = this.obj[field]
    if (val === undefined) {
      if (required) this.problems.push(`${this.path}.${field}: required`)
      return
    }
    if (!isObj(val)) return void this.problems.push(`${this.path}.${field}: expected an object of strings`)
    const entries = Object.entries(val)
    if (entries.length > 16) this.problems.push(`${this.path}.${field}: at most 16 parameters`)
    for (const [k, s] of entries) {
      if (!PARAM_NAME.test(k)) this.problems.push(`${this.path}.${field}.${k}: name must match ${PARAM_NAME}`)
      if (typeof s !== 'string' || s.length > 128) this.problems.push(`${this.path}.${field}.${k}: expected a string of at most 128 characters`)
    }
  }

  /** Unknown fields are errors: a typo should not silently change a boot. */
  only(...fields: string[]): void {
    const allowed = new Set(['kind', ...fields])
    for (const k of Object.keys(this.obj)) {
      if (!allowed.has(k)) this.problems.push(`${this.path}.${k}: unknown field`)
    }
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}
