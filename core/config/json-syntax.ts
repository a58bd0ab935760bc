/**
 * Where and why a config file is not JSON, for a person: `file:12:7: expected "," or "}"` and the
 * line with a caret under the column. V8's JSON.parse messages give no position for some faults
 * (`tru`, `[1,]`) and quote the file's text (which may hold http.adminToken), so this small strict
 * scanner finds the first fault itself, and the excerpt masks the values of secret-looking keys.
 */
import { positionOf, type TextPosition } from './json-locate.js'

export interface JsonSyntaxFault extends TextPosition {
  readonly reason: string
  /** The offending line and a caret line, indented, at most 120 columns of it. */
  readonly excerpt: string
}

const MAX_DEPTH = 1000
const SECRET_KEY = /token|password|secret|passphrase|credential/i

class Fault {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

/** The first syntax fault of `text`, or undefined when it is valid JSON. */
export function jsonSyntaxFault(text: string): JsonSyntaxFault | undefined {
  let i = 0
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++
  }
  const fail = (reason: string, at = i): never => {
    throw new Fault(at, i >= text.length && at >= text.length ? `${reason} (the file ends here)` : reason)
  }
  const string = (): void => {
    i++
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i)
      if (c < 0x20) fail('a string holds a raw control character or line break (write \\n, or close the string with ")')
      if (text[i] === '\\') {
        const e = text[i + 1]
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('\\u must be followed by 4 hex digits')
          i += 6
          continue
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail(`bad escape \\${e ?? ''} in a string`)
        i += 2
        continue
      }
      i++
    }
    if (i >= text.length) fail('a string is not closed with "')
    i++
  }
  const value = (depth: number): void => {
    ws()
    if (depth > MAX_DEPTH) fail(`values are nested deeper than ${MAX_DEPTH}`)
    const c = text[i]
    if (c === undefined) fail('expected a value')
    if (c === '"') return string()
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']'
      i++
      ws()
      if (text[i] === close) {
        i++
        return
      }
      for (;;) {
        ws()
        if (c === '{') {
          if (text[i] === '}') fail('a comma before } (JSON allows no trailing comma)')
          if (text[i] !== '"') fail(text[i] === "'" ? 'keys take double quotes, not single quotes' : text[i] === '/' ? 'JSON has no comments' : 'expected a double-quoted key')
          string()
          ws()
          if (text[i] !== ':') fail('expected ":" after the key')
          i++
        } else if (text[i] === ']') {
          fail('a comma before ] (JSON allows no trailing comma)')
        }
        value(depth + 1)
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === close) {
          i++
          return
        }
        fail(`expected "," or "${close}"${text[i] === '/' ? ' (JSON has no comments)' : ''}`)
      }
    }
    const literal = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i, i + 400))
    if (!literal || /[A-Za-z0-9_$]/.test(text[i + literal[0].length] ?? '')) {
      fail(c === "'" ? 'strings take double quotes, not single quotes' : c === '/' ? 'JSON has no comments' : 'expected a value (a string, number, object, array, true, false or null)')
    }
    i += literal![0].length
  }
  try {
    value(0)
    ws()
    if (i < text.length) fail('unexpected text after the end of the JSON value')
    return undefined
  } catch (err) {
    if (!(err instanceof Fault)) throw err
    const at = positionOf(text, Math.min(err.offset, text.length))
    return { ...at, reason: err.reason, excerpt: excerpt(text, at) }
  }
}

/** `   12 | "port": 80,,` and a caret under the column; a secret-looking key's string value is masked (same length, so the caret stays put). */
export function excerpt(text: string, at: TextPosition): string {
  const raw = text.split('\n')[at.line - 1] ?? ''
  const masked = raw.replace(/("(?:[^"\\]|\\.)*")(\s*:\s*)"(?:[^"\\]|\\.)*"?/g, (all, key: string, colon: string) =>
    SECRET_KEY.test(key) ? `${key}${colon}${all.slice(key.length + colon.length).replace(/(?<=^").*?(?="?$)/, (v) => '*'.repeat(v.length))}` : all,
  )
  // Keep the caret in view on a long line: show at most 120 columns around it.
  const from = Math.max(0, Math.min(at.col - 60, masked.length - 120))
  const shown = masked
    .slice(from, from + 120)
    .replace(/\t/g, ' ')
    .replace(/\r$/, '')
  const gutter = `${at.line}`.padStart(5)
  return `${gutter} | ${shown}\n${' '.repeat(5)} | ${' '.repeat(Math.max(0, at.col - 1 - from))}^`
}
