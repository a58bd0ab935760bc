/**
 * Decision validation split across threads, so that the main thread does not pay for it.
 * The policy worker (trusted bootpolicy code; only the isolate in it is untrusted) parses the
 * decision text and runs the whole validation except plugin kinds, whose validators are functions
 * of trusted plugins that live on the main thread: it records where each plugin-kind decision is.
 * The main thread parses the same text (JSON.parse is deterministic: the same tree the worker
 * checked) and runs only those plugins' validators, on those sub-decisions.
 */
import { validateDecision, type KindValidator } from './validate-decision.js'

export type WorkerVerdict = { readonly ok: true; readonly pluginPaths: readonly string[] } | { readonly ok: false; readonly problems: readonly string[] }

/** In the worker: everything but plugin kinds (names with a '.'; core kinds have none). */
export function validateInWorker(json: string): WorkerVerdict {
  const pluginPaths: string[] = []
  const deferred: KindValidator = (_d, path) => void pluginPaths.push(path)
  const verdict = validateDecision(JSON.parse(json), { get: (kind) => (kind.includes('.') ? deferred : undefined) })
  return verdict.ok ? { ok: true, pluginPaths } : { ok: false, problems: verdict.problems }
}

/**
 * On the main thread: the plugin validators, at the paths the worker reported (`$` or
 * `$.items[i].action…`, the only places a decision holds decisions). An unknown kind is a problem.
 */
export function validatePluginParts(decision: unknown, paths: readonly string[], kinds: ReadonlyMap<string, KindValidator>): string[] {
  const problems: string[] = []
  for (const path of paths) {
    let node = decision as Record<string, unknown>
    for (const m of path.matchAll(/\[(\d+)\]/g)) node = ((node.items as unknown[])[Number(m[1])] as { action: Record<string, unknown> }).action
    const kind = node.kind as string
    const validator = kinds.get(kind)
    if (validator) validator(node, path, problems)
    else problems.push(`${path}.kind: unknown decision kind "${kind}"`)
  }
  return problems
}
