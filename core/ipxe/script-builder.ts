/**
 * The one place where values enter iPXE script text.
 *
 * iPXE splits a line on whitespace, ends a command at a token `||`, `&&` or `;`, starts a comment
 * at a token beginning with `#`, and expands `${name}` inside every token. It has no quoting.
 * So a value goes into the script in one of two ways:
 * - literally, when it is made only of characters that none of those rules touch;
 * - otherwise through a hex setting: `set bpv0:hex 41:20:42` then `${bpv0:string}`. Expansion happens
 *   after splitting, so the expanded value stays one argument whatever bytes it holds.
 * Arguments (URLs, kernel arguments, IQNs) must not hold whitespace or control characters at all:
 * the kernel would split them again. Those are rejected with BP_ERR_RENDER_UNSAFE_VALUE.
 * iPXE re-scans a token after every expansion (settings.c expand_settings), so a value holding
 * `${…}` would be expanded even from a hex setting: arguments with `${` are rejected, and
 * display text shows it as `$ {` (and control characters as `?`).
 */
import { BootpolicyError } from '../errors/bp-error.js'

const SAFE_ARG = /^[A-Za-z0-9._~:/?=@%+,!*'()[\]^-]+$/
const SAFE_TEXT_CHAR = /^[A-Za-z0-9 ._~:/?=@%+,!*'()[\]<>^"-]+$/
const LABEL = /^[A-Za-z0-9_-]{1,64}$/
// Whitespace, C0/C1 controls and DEL: never inside one argument.
const ARG_FORBIDDEN = /[\s\u0000-\u001f\u007f-\u009f]/

/** A value placed by the builder: either a literal token or a reference to a hex setting. */
export type Piece = string

export class IpxeScript {
  private readonly lines: string[] = ['#!ipxe']
  private hexCount = 0

  /** A command whose name and flags come from bootpolicy itself (never from a client). */
  command(name: string, ...pieces: Piece[]): this {
    this.lines.push([name, ...pieces].filter((p) => p !== '').join(' '))
    return this
  }

  /** A command with a trailing `|| goto <label>`. */
  commandOr(label: string, name: string, ...pieces: Piece[]): this {
    return this.command(name, ...pieces, '||', 'goto', this.labelName(label))
  }

  label(name: string): this {
    this.lines.push(`:${this.labelName(name)}`)
    return this
  }

  blank(): this {
    this.lines.push('')
    return this
  }

  /**
   * One argument (URL, path, kernel argument). Rejects whitespace and control characters,
   * routes anything else that iPXE would interpret through a hex setting.
   */
  arg(field: string, value: string): Piece {
    if (value === '') throw unsafe(field, 'empty value')
    if (ARG_FORBIDDEN.test(value)) throw unsafe(field, 'contains whitespace or control characters')
    if (value.length > 4096) throw unsafe(field, 'longer than 4096 characters')
    if (value.includes('${')) throw unsafe(field, 'contains ${, which iPXE would expand')
    return SAFE_ARG.test(value) && !value.startsWith('-') ? value : this.viaHex(value)
  }

  /** Display text (menu titles, item text, messages): any characters, shown exactly. */
  text(value: string): Piece {
    if (value === '') return ''
    // Control characters would move the cursor or end the setting (NUL): show them as `?`.
    value = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').replaceAll('${', '$ {')
    const plain = SAFE_TEXT_CHAR.test(value) && !/(^ | $| {2})/.test(value) && !/(^| )-/.test(value)
    return plain ? value : this.viaHex(value)
  }

  /** A label we generate ourselves; validated anyway so that a bug cannot create one from data. */
  labelName(name: string): string {
    if (!LABEL.test(name)) throw new Error(`internal: bad label ${JSON.stringify(name)}`)
    return name
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`
  }

  private viaHex(value: string): Piece {
    const bytes = Buffer.from(value, 'utf8')
    if (bytes.includes(0)) throw unsafe('value', 'contains a NUL byte')
    const name = `bpv${this.hexCount++}`
    this.lines.push(`set ${name}:hex ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')}`)
    return `\${${name}:string}`
  }
}

function unsafe(field: string, reason: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_RENDER_UNSAFE_VALUE', { field, reason })
}

/** Percent-encode for a query value that iPXE passes through untouched (unreserved characters only). */
export function isUnreservedQueryValue(value: string): boolean {
  return /^[A-Za-z0-9._~-]*$/.test(value)
}

/** Bytes → iPXE's `${x:hex}` form (`41:42`), or `${x:hexhyp}` (`41-42`) for URLs; /boot decodes both. */
export function toHexSetting(value: string, separator: ':' | '-' = ':'): string {
  return [...Buffer.from(value, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(separator)
}

/**
 * A URL argument. A relative URL (`/files/…`) must not hold a raw `:`: iPXE 2019 would take
 * what precedes it as a URI scheme. `%3A` is decoded back by iPXE when it sends the request.
 */
export function relativeUrlSafe(url: string): string {
  return url.startsWith('/') ? url.replaceAll(':', '%3A') : url
}
