/**
 * A bound on how much of a decision validation and rendering may visit.
 * A menu whose items share one sub-menu object is a DAG: walked as a tree it costs
 * fan-out^depth (three levels of 200 stalled the server for 26 s and took 3.4 GB). So every
 * object is counted once as it is visited, a second visit of the same object is refused
 * outright, and the walk stops at MAX_DECISION_NODES instead of expanding anything.
 */

/**
 * Objects that can hold decisions (decisions, menu entries, item lists) one decision may hold.
 * Leaves (argument lists, params) are not counted: sharing them costs only their own size.
 */
export const MAX_DECISION_NODES = 10_000

/** Menus inside menus: a decision nests at most this deep (the walk never recurses further). */
export const MAX_MENU_DEPTH = 4

export type BudgetVerdict = 'ok' | 'shared' | 'over' | 'deep'

export class DecisionBudget {
  private readonly seen = new WeakSet<object>()
  private count = 0

  constructor(readonly limit: number = MAX_DECISION_NODES) {}

  /** Counts `value` (an object or array) once; says whether the walk may go on. */
  visit(value: object): BudgetVerdict {
    if (this.seen.has(value)) return 'shared'
    this.seen.add(value)
    return ++this.count > this.limit ? 'over' : 'ok'
  }

  get nodes(): number {
    return this.count
  }
}

/**
 * Walks the decisions a decision holds (menu items' actions), counting each decision, item list
 * and entry once; returns where it stopped, or undefined when the whole decision is within budget.
 * Cost: at most `budget.limit` visits, whatever the input.
 */
export function exceedsBudget(decision: unknown, budget: DecisionBudget, path = '$'): { verdict: Exclude<BudgetVerdict, 'ok'>; path: string } | undefined {
  // Iterative, so that no nesting can overflow the stack.
  const stack: Array<[unknown, string, number]> = [[decision, path, 0]]
  while (stack.length) {
    const [value, at, depth] = stack.pop()!
    if (typeof value !== 'object' || value === null) continue
    const verdict = budget.visit(value)
    if (verdict !== 'ok') return { verdict, path: at }
    const items = (value as { kind?: unknown; items?: unknown }).kind === 'menu' ? (value as { items?: unknown }).items : undefined
    if (!Array.isArray(items)) continue
    if (depth >= MAX_MENU_DEPTH) return { verdict: 'deep', path: at }
    const listVerdict = budget.visit(items)
    if (listVerdict !== 'ok') return { verdict: listVerdict, path: `${at}.items` }
    for (let i = items.length - 1; i >= 0; i--) {
      const entry: unknown = items[i]
      if (typeof entry !== 'object' || entry === null) continue
      const entryVerdict = budget.visit(entry)
      if (entryVerdict !== 'ok') return { verdict: entryVerdict, path: `${at}.items[${i}]` }
      if ('action' in entry) stack.push([(entry as { action: unknown }).action, `${at}.items[${i}].action`, depth + 1])
    }
  }
  return undefined
}
