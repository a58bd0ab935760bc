/**
 * Escaping of user-supplied values for LDAP. Core already limits usernames to
 * [A-Za-z0-9._@-] (USERNAME_PATTERN), so these are a second wall, not the only one.
 */

/** RFC 4514 §2.4: a value inside a DN (`uid=<value>,ou=people,…`). */
export function escapeDnValue(value: string): string {
  let out = ''
  for (const [i, ch] of [...value].entries()) {
    const code = ch.codePointAt(0)!
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`
    else if ('"+,;<>\\='.includes(ch)) out += `\\${ch}`
    else if (i === 0 && (ch === ' ' || ch === '#')) out += `\\${ch}`
    else out += ch
  }
  // A trailing space is significant only when escaped.
  return out.endsWith(' ') && !out.endsWith('\\ ') ? `${out.slice(0, -1)}\\ ` : out
}

/** RFC 4515 §3: a value inside a search filter (`(uid=<value>)`): `*`, `(`, `)`, `\`, NUL. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (ch) => `\\${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** Fill `{name}` placeholders; each value goes through `escapeValue`. Unknown placeholders are an error. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>, escapeValue: (v: string) => string): string {
  return template.replace(/\{([a-z]+)\}/g, (_, name: string) => {
    const v = values[name]
    if (v === undefined) throw new Error(`unknown placeholder {${name}} in "${template}"`)
    return escapeValue(v)
  })
}
