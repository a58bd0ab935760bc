/**
 * One finding of `bootpolicy check` and its two output forms: a compiler-style line
 * (`file:line:col: CODE message`, warnings marked `warning:`) or JSON for tools.
 */
import { isAbsolute, relative } from 'node:path'

export interface CheckProblem {
  readonly severity: 'error' | 'warning'
  /** Absolute path of the file the problem is in (the config file, a policy, a template). */
  readonly file: string
  readonly line: number
  readonly col: number
  /** A catalog code (BP_ERR_…, BPWRN…). */
  readonly code: string
  readonly message: string
  /** The offending line with a caret under the column, printed below the problem (text form). */
  readonly excerpt?: string
}

/** A path relative to the working directory when it is inside it: what an editor can jump to. */
export function shownPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file
}

export function formatText(problems: readonly CheckProblem[]): string {
  const lines = problems.map((p) => `${shownPath(p.file)}:${p.line}:${p.col}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.code} ${p.message}${p.excerpt ? `\n${p.excerpt}` : ''}`)
  const errors = problems.filter((p) => p.severity === 'error').length
  const warnings = problems.length - errors
  lines.push(
    errors === 0 && warnings === 0
      ? 'ok: config, plugins, policies, templates and DHCP/TFTP settings are valid'
      : `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`,
  )
  return `${lines.join('\n')}\n`
}

export function formatJson(problems: readonly CheckProblem[]): string {
  const errors = problems.filter((p) => p.severity === 'error').length
  return `${JSON.stringify({ ok: errors === 0, errors, warnings: problems.length - errors, problems: problems.map((p) => ({ ...p, file: shownPath(p.file) })) }, null, 2)}\n`
}
