/**
 * A strict JSON parser for tests: JSON.parse silently keeps the last of duplicate keys, which is
 * exactly what log lines must not have. Throws on a duplicate key, on trailing text, and on
 * anything JSON.parse would reject (it parses the scalars with JSON.parse itself).
 */
export function parseStrictJson(text: string): unknown {
  let i = 0
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at ${i} in ${text.slice(0, 200)}`)
  }
  const string = (): string => {
    const start = i
    i++
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    if (i >= text.length) fail('unterminated string')
    i++
    return JSON.parse(text.slice(start, i)) as string
  }
  const value = (): unknown => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const out: Record<string, unknown> = {}
      const seen = new Set<string>()
      ws()
      if (text[i] === '}') {
        i++
        return out
      }
      for (;;) {
        ws()
        if (text[i] !== '"') fail('expected a key')
        const key = string()
        if (seen.has(key)) fail(`duplicate key ${JSON.stringify(key)}`)
        seen.add(key)
        ws()
        if (text[i++] !== ':') fail('expected :')
        out[key] = value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i++] === '}') return out
        fail('expected , or }')
      }
    }
    if (c === '[') {
      i++
      const out: unknown[] = []
      ws()
      if (text[i] === ']') {
        i++
        return out
      }
      for (;;) {
        out.push(value())
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i++] === ']') return out
        fail('expected , or ]')
      }
    }
    if (c === '"') return string()
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400))
    if (!m) fail('unexpected character')
    i += m![0].length
    return JSON.parse(m![0])
  }
  const v = value()
  ws()
  if (i !== text.length) fail('trailing text')
  return v
}
