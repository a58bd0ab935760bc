/**
 * pxelinux configuration files, written by us: a small structured form rendered line by line,
 * and text templates with `{{ var }}` placeholders. pxelinux reads one directive per line and has
 * no quoting, so a value that holds a line break (or any control character) could add directives:
 * such values are refused, never escaped. Values that are one token (labels, paths, template
 * variables) may not hold whitespace either.
 */

export interface PxelinuxEntry {
  /** LABEL: 1-64 of A-Z a-z 0-9 . _ + - */
  readonly label: string
  /** MENU LABEL (shown by menu.c32 / vesamenu.c32). */
  readonly menuLabel?: string
  /** KERNEL: a path relative to pxelinux's own location, or a URL (lpxelinux). */
  readonly kernel: string
  /** INITRD: one path or URL, or several separated by commas. */
  readonly initrd?: string
  /** APPEND: the kernel command line. */
  readonly append?: string
  /** SYSAPPEND bit mask (1: ip=, 2: BOOTIF=, …). */
  readonly sysappend?: number
}

export interface PxelinuxConfig {
  /** DEFAULT label; the first entry when absent. */
  readonly default?: string
  /** TIMEOUT in tenths of a second; 0 waits forever. Default 0. */
  readonly timeout?: number
  /** PROMPT 0 or 1. Default 0. */
  readonly prompt?: 0 | 1
  /** UI module, e.g. `menu.c32`. */
  readonly ui?: string
  readonly menuTitle?: string
  readonly entries: readonly PxelinuxEntry[]
}

export const LIMITS = { entries: 64, text: 128, token: 1024, append: 2048, var: 1024, timeout: 36_000 } as const

const LABEL = /^[A-Za-z0-9._+-]{1,64}$/
// C0, DEL, C1 and the Unicode line separators: never inside a pxelinux line.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
const TOKEN = /^[^\s\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function only(obj: Obj, path: string, problems: string[], fields: string[]): void {
  for (const k of Object.keys(obj)) if (!fields.includes(k)) problems.push(`${path}.${k}: unknown field`)
}

function text(v: unknown, path: string, problems: string[], max: number, required = false): void {
  if (v === undefined) {
    if (required) problems.push(`${path}: required`)
  } else if (typeof v !== 'string') problems.push(`${path}: expected a string`)
  else if (v.length > max) problems.push(`${path}: longer than ${max} characters`)
  else if (CONTROL.test(v)) problems.push(`${path}: contains a line break or control character`)
}

function token(v: unknown, path: string, problems: string[], required = false): void {
  if (v === undefined) {
    if (required) problems.push(`${path}: required`)
  } else if (typeof v !== 'string' || v.length > LIMITS.token || !TOKEN.test(v)) {
    problems.push(`${path}: expected one token of at most ${LIMITS.token} characters (no whitespace or control characters)`)
  }
}

/** Every problem of a structured configuration, path-prefixed; empty when it can be rendered. */
export function checkConfig(value: unknown, path: string): string[] {
  const problems: string[] = []
  if (!isObj(value)) return [`${path}: expected an object`]
  only(value, path, problems, ['default', 'timeout', 'prompt', 'ui', 'menuTitle', 'entries'])
  const { timeout, prompt, entries } = value
  if (timeout !== undefined && (!Number.isInteger(timeout) || (timeout as number) < 0 || (timeout as number) > LIMITS.timeout)) {
    problems.push(`${path}.timeout: expected an integer 0..${LIMITS.timeout} (tenths of a second)`)
  }
  if (prompt !== undefined && prompt !== 0 && prompt !== 1) problems.push(`${path}.prompt: expected 0 or 1`)
  token(value.ui, `${path}.ui`, problems)
  text(value.menuTitle, `${path}.menuTitle`, problems, LIMITS.text)
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > LIMITS.entries) {
    problems.push(`${path}.entries: expected 1..${LIMITS.entries} entries`)
    return problems
  }
  const labels = new Set<string>()
  entries.forEach((e: unknown, i) => {
    const p = `${path}.entries[${i}]`
    if (!isObj(e)) return void problems.push(`${p}: expected an entry`)
    only(e, p, problems, ['label', 'menuLabel', 'kernel', 'initrd', 'append', 'sysappend'])
    if (typeof e.label !== 'string' || !LABEL.test(e.label)) problems.push(`${p}.label: expected 1-64 of A-Z a-z 0-9 . _ + -`)
    else if (labels.has(e.label)) problems.push(`${p}.label: duplicate label "${e.label}"`)
    else labels.add(e.label)
    text(e.menuLabel, `${p}.menuLabel`, problems, LIMITS.text)
    token(e.kernel, `${p}.kernel`, problems, true)
    token(e.initrd, `${p}.initrd`, problems)
    text(e.append, `${p}.append`, problems, LIMITS.append)
    if (e.sysappend !== undefined && (!Number.isInteger(e.sysappend) || (e.sysappend as number) < 0 || (e.sysappend as number) > 0xffff)) {
      problems.push(`${p}.sysappend: expected an integer 0..65535`)
    }
  })
  if (value.default !== undefined && (typeof value.default !== 'string' || !labels.has(value.default))) {
    problems.push(`${path}.default: no entry has label ${JSON.stringify(value.default)}`)
  }
  return problems
}

/** The configuration file text. Call checkConfig first: values are written as they are. */
export function renderConfig(config: PxelinuxConfig): string {
  const lines = ['# generated by bootpolicy (pxelinux-cfg plugin)']
  if (config.ui) lines.push(`UI ${config.ui}`)
  if (config.menuTitle) lines.push(`MENU TITLE ${config.menuTitle}`)
  lines.push(`DEFAULT ${config.default ?? config.entries[0]!.label}`)
  lines.push(`PROMPT ${config.prompt ?? 0}`)
  lines.push(`TIMEOUT ${config.timeout ?? 0}`)
  for (const e of config.entries) {
    lines.push('', `LABEL ${e.label}`)
    if (e.menuLabel) lines.push(`  MENU LABEL ${e.menuLabel}`)
    lines.push(`  KERNEL ${e.kernel}`)
    if (e.initrd) lines.push(`  INITRD ${e.initrd}`)
    if (e.append) lines.push(`  APPEND ${e.append}`)
    if (e.sysappend !== undefined) lines.push(`  SYSAPPEND ${e.sysappend}`)
  }
  return `${lines.join('\n')}\n`
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g

export const TEMPLATE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/

/** Names of the placeholders a template uses. */
export function placeholders(template: string): Set<string> {
  return new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))
}

/** Problems of the variables for one template: missing, unused, or not one safe token. */
export function checkVars(template: string, vars: unknown, path: string): string[] {
  if (vars !== undefined && !isObj(vars)) return [`${path}: expected an object`]
  const given = (vars ?? {}) as Obj
  const used = placeholders(template)
  const problems: string[] = []
  for (const name of used) if (!(name in given)) problems.push(`${path}.${name}: required by the template`)
  for (const [name, v] of Object.entries(given)) {
    if (!used.has(name)) problems.push(`${path}.${name}: the template has no {{ ${name} }}`)
    else if (typeof v === 'number' ? !Number.isFinite(v) : typeof v !== 'string' && typeof v !== 'boolean') problems.push(`${path}.${name}: expected a string, number or boolean`)
    else if (String(v).length > LIMITS.var || (String(v) !== '' && !TOKEN.test(String(v)))) {
      problems.push(`${path}.${name}: expected one token of at most ${LIMITS.var} characters (no whitespace or control characters)`)
    }
  }
  return problems
}

/** Fill the placeholders. Call checkVars first. */
export function renderTemplate(template: string, vars: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => String(vars[name]))
}
