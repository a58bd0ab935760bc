/**
 * Where a JSON pointer (`/dhcp/pool/start`) sits in a JSON text, as 1-based line:col, so that
 * `bootpolicy check` can print `bootpolicy.json:12:7: …` like a compiler. A small scanner that
 * records where each member's key (or array element) starts; a pointer that is not in the text
 * (a missing required key, an environment override) falls back to its deepest present parent.
 */

export interface TextPosition {
  readonly line: number
  readonly col: number
}

export function locatePointer(text: string, pointer: string): TextPosition {
  const starts = new Map<string, number>([['', skipWs(text, 0)]])
  try {
    scanValue(text, skipWs(text, 0), '', starts)
  } catch {
    // Malformed text: what was recorded before the fault still locates.
  }
  const parts = pointer.split('/').slice(1)
  for (let n = parts.length; n >= 0; n--) {
    const at = starts.get(n === 0 ? '' : `/${parts.slice(0, n).join('/')}`)
    if (at !== undefined) return positionOf(text, at)
  }
  return { line: 1, col: 1 }
}

export function positionOf(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return { line, col: offset - before.lastIndexOf('\n') }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && ' \t\r\n'.includes(s[i]!)) i++
  return i
}

function scanString(s: string, i: number): [string, number] {
  let j = i + 1
  while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1
  return [JSON.parse(s.slice(i, j + 1)) as string, j + 1]
}

/** Returns the offset after the value starting at `i`. */
function scanValue(s: string, i: number, path: string, starts: Map<string, number>): number {
  const c = s[i]
  if (c === '"') return scanString(s, i)[1]
  if (c === '{' || c === '[') {
    const close = c === '{' ? '}' : ']'
    let j = skipWs(s, i + 1)
    let index = 0
    while (j < s.length && s[j] !== close) {
      let member: string
      let at = j
      if (c === '{') {
        const [key, after] = scanString(s, j)
        member = key.replace(/~/g, '~0').replace(/\//g, '~1')
        j = skipWs(s, after) + 1 // past ':'
        j = skipWs(s, j)
      } else {
        member = String(index++)
        at = j
      }
      starts.set(`${path}/${member}`, at)
      j = skipWs(s, scanValue(s, j, `${path}/${member}`, starts))
      if (s[j] === ',') j = skipWs(s, j + 1)
      else if (s[j] !== close) throw new Error('malformed JSON')
    }
    return j + 1
  }
  let j = i
  while (j < s.length && !',}] \t\r\n'.includes(s[j]!)) j++
  if (j === i) throw new Error('malformed JSON')
  return j
}
