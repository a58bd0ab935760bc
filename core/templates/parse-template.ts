/**
 * Parser of bootpolicy's logic-less template language (Mustache-like), run once when a template
 * loads. Templates used to be eta, which compiles to host JavaScript: a `<% %>` tag ran as the
 * server's user (root when it serves DHCP/TFTP). This language has no code at all: values,
 * sections, inverted sections and comments. Nothing in it can call a function, read a file or
 * include another template, and a parsed template is a plain tree that the renderer walks.
 *
 *   {{ vars.host }}          an argument value (checked and escaped like decision arguments)
 *   {{ vars.title | text }}  display text (any characters, shown as they are)
 *   {{ ctx.serial | url }}   a URL component, percent-encoded
 *   {{# vars.items }}…{{/ vars.items }}   repeat for each array element, or once for a true value
 *   {{^ vars.items }}…{{/ vars.items }}   only when the value is missing, false, empty
 *   {{! a comment }}
 *
 * Limits: 64 KiB of template text, sections nested at most 8 deep. Partials (`{{>`), raw output
 * (`{{{`, `{{&`), delimiter changes (`{{=`) and eta/EJS tags (`<%`) are refused with the line.
 */

export const MAX_TEMPLATE_BYTES = 64 * 1024
export const MAX_SECTION_DEPTH = 8

export type ValueForm = 'arg' | 'text' | 'url'

export type TemplateNode =
  | { readonly type: 'text'; readonly text: string; readonly line: number }
  /**
   * `command`: the first word of the value's line (`kernel`, `echo`…): a kernel line takes no display
   * text. `firstPositional`: only the command and options stand before it, so iPXE (which expands
   * before it parses options) would read a value starting with `-` as an option.
   */
  | { readonly type: 'value'; readonly path: readonly string[]; readonly name: string; readonly form: ValueForm; readonly line: number; readonly command: string; readonly firstPositional: boolean }
  | {
      readonly type: 'section'
      readonly inverted: boolean
      readonly path: readonly string[]
      readonly name: string
      readonly line: number
      readonly children: readonly TemplateNode[]
    }

/** A template problem found while parsing; `line` is 1-based. */
export class TemplateSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`)
    this.name = 'TemplateSyntaxError'
  }
}

// `.` (the current element) or a dotted path of plain names (array indexes are digits).
const NAME = /^(\.|[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*)$/
const FORMS: Readonly<Record<string, ValueForm>> = { text: 'text', url: 'url' }

export function parseTemplate(source: string): TemplateNode[] {
  if (Buffer.byteLength(source, 'utf8') > MAX_TEMPLATE_BYTES) {
    throw new TemplateSyntaxError(1, `template is larger than ${MAX_TEMPLATE_BYTES / 1024} KiB`)
  }
  const eta = source.indexOf('<%')
  if (eta >= 0) {
    throw new TemplateSyntaxError(lineCounter(source)(eta), 'eta/EJS tags (<% %>) are not supported: templates cannot run code; use {{ name }} values')
  }
  const root: TemplateNode[] = []
  const stack: { name: string; line: number; inverted: boolean; path: string[]; children: TemplateNode[] }[] = []
  const out = (): TemplateNode[] => (stack.length ? stack[stack.length - 1]!.children : root)
  const lines = lineCounter(source)
  const commands = commandOfLine(source)
  let pos = 0
  while (pos < source.length) {
    const open = source.indexOf('{{', pos)
    const textLine = lines(pos)
    if (open < 0) {
      out().push({ type: 'text', text: source.slice(pos), line: textLine })
      break
    }
    const line = lines(open)
    const close = source.indexOf('}}', open + 2)
    if (close < 0) throw new TemplateSyntaxError(line, 'a {{ tag is not closed with }}')
    const raw = source.slice(open + 2, close)
    const sigil = raw[0]
    // A section or comment tag alone on its line leaves no blank line behind (as in Mustache).
    // Both scans stop at the first other character, so a long line of tags stays linear.
    let lineStart = open
    while (lineStart > pos && (source[lineStart - 1] === ' ' || source[lineStart - 1] === '\t')) lineStart--
    let lineEnd = close + 2
    while (lineEnd < source.length && (source[lineEnd] === ' ' || source[lineEnd] === '\t' || source[lineEnd] === '\r')) lineEnd++
    const standalone =
      (sigil === '#' || sigil === '^' || sigil === '/' || sigil === '!') && (lineStart === 0 || source[lineStart - 1] === '\n') && (lineEnd === source.length || source[lineEnd] === '\n')
    if (standalone && lineEnd < source.length) lineEnd++
    const textEnd = standalone ? lineStart : open
    if (textEnd > pos) out().push({ type: 'text', text: source.slice(pos, textEnd), line: textLine })
    pos = standalone ? lineEnd : close + 2
    if (sigil === '!') continue
    if (raw.includes('{{')) throw new TemplateSyntaxError(line, 'a {{ tag is not closed with }} before the next {{')
    if (sigil === '{' || sigil === '&') throw new TemplateSyntaxError(line, `{{${sigil} (unescaped output) is not supported: every value is escaped`)
    if (sigil === '>') throw new TemplateSyntaxError(line, '{{> (partials) is not supported')
    if (sigil === '=') throw new TemplateSyntaxError(line, '{{= (changing delimiters) is not supported')
    if (sigil === '#' || sigil === '^') {
      const name = checkName(raw.slice(1).trim(), line)
      if (stack.length >= MAX_SECTION_DEPTH) throw new TemplateSyntaxError(line, `sections are nested deeper than ${MAX_SECTION_DEPTH}`)
      stack.push({ name, line, inverted: sigil === '^', path: splitPath(name), children: [] })
      continue
    }
    if (sigil === '/') {
      const name = raw.slice(1).trim()
      const top = stack.pop()
      if (!top) throw new TemplateSyntaxError(line, `{{/${name}}} closes no section`)
      if (top.name !== name) throw new TemplateSyntaxError(line, `{{/${name}}} closes {{${top.inverted ? '^' : '#'}${top.name}}} opened on line ${top.line}`)
      out().push({ type: 'section', inverted: top.inverted, path: top.path, name: top.name, line: top.line, children: top.children })
      continue
    }
    const [namePart, formPart, ...rest] = raw.split('|').map((s) => s.trim())
    if (rest.length > 0) throw new TemplateSyntaxError(line, 'a value takes at most one form (| text or | url)')
    const name = checkName(namePart ?? '', line)
    let form: ValueForm = 'arg'
    if (formPart !== undefined) {
      const f = FORMS[formPart]
      if (!f) throw new TemplateSyntaxError(line, `unknown form "| ${formPart}": use | text or | url`)
      form = f
    }
    out().push({ type: 'value', path: splitPath(name), name, form, line, ...commands(open) })
  }
  const unclosed = stack.pop()
  if (unclosed) throw new TemplateSyntaxError(unclosed.line, `{{${unclosed.inverted ? '^' : '#'}${unclosed.name}}} is never closed`)
  return root
}

function checkName(name: string, line: number): string {
  if (!NAME.test(name)) throw new TemplateSyntaxError(line, `${JSON.stringify(name.slice(0, 40))} is not a value name (letters, digits, _ - and dots)`)
  return name
}

function splitPath(name: string): string[] {
  return name === '.' ? [] : name.split('.')
}

/**
 * Where a value tag stands on its line: the line's first word and whether only that command and
 * options precede the tag. Offsets must be asked in increasing order; the scan for line starts only
 * moves forward and at most 256 characters of a line are looked at, so the parse stays linear. A
 * longer head counts as a first positional (the strict answer).
 */
function commandOfLine(source: string): (index: number) => { command: string; firstPositional: boolean } {
  let lineStart = 0
  let scannedTo = 0
  return (index) => {
    for (let nl = source.indexOf('\n', scannedTo); nl !== -1 && nl < index; nl = source.indexOf('\n', nl + 1)) lineStart = nl + 1
    scannedTo = index
    const command = firstWord(source.slice(lineStart, Math.min(index, lineStart + 256)))
    if (index - lineStart > 256) return { command, firstPositional: true }
    // Section and comment tags leave nothing on the line; a value tag stands for a token.
    const head = source
      .slice(lineStart, index)
      .replace(/\{\{\s*[#^/!][^}]*\}\}/g, '')
      .replace(/\{\{[^}]*\}\}/g, 'X')
    return { command, firstPositional: /^\s*[A-Za-z_-]+(?:\s+-\S*)*\s+$/.test(head) }
  }
}

function firstWord(text: string): string {
  return /^\s*([A-Za-z_-]*)/.exec(text.replace(/\{\{[^}]*\}\}/g, ''))?.[1] ?? ''
}

/** Line of an offset; offsets must be asked in increasing order, so the whole parse is linear. */
function lineCounter(source: string): (index: number) => number {
  let line = 1
  let next = source.indexOf('\n')
  return (index) => {
    while (next >= 0 && next < index) {
      line++
      next = source.indexOf('\n', next + 1)
    }
    return line
  }
}
