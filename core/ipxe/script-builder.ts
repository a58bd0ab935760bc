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
 *
 * iPXE also expands settings *before* a command parses its options (getopt, src/core/getopt.c),
 * so a hex setting whose value starts with `-` would become an option of `echo`, `menu`, `kernel`,
 * `chain`, `sanboot`… and abort the script. getopt stops at the first token that does not start
 * with `-` and consumes a `--`: so `command()` puts `--` before the first positional argument
 * when that argument is a hex setting whose value starts with `-`, and writes such a value of an
 * option as `--opt=${…}` (an inline argument may start with `-`). A literal piece never starts
 * with `-`; scripts without such values are unchanged.
 *
 * The arguments after the image of `kernel`, `chain`, `imgexec` and `imgargs` become the booted
 * kernel's command line, which Linux splits on spaces but with `"` quoting, and ends at a bare
 * `--` (lib/cmdline.c, kernel/params.c): a `"` or a `--` there would swallow or hand to init the
 * admin's arguments that follow, so both are refused (BP_ERR_RENDER_UNSAFE_VALUE).
 *
 * A script is capped at MAX_SCRIPT_BYTES (BP_ERR_RENDER_TOO_LARGE), counted as lines are added.
 */
import { BootpolicyError } from '../errors/bp-error.js'

/** The largest script the renderer writes (bytes): far above any real menu, far below a stall. */
export const MAX_SCRIPT_BYTES = 1024 * 1024

const SAFE_ARG = /^[A-Za-z0-9._~:/?=@%+,!*'()[\]^-]+$/
const SAFE_TEXT_CHAR = /^[A-Za-z0-9 ._~:/?=@%+,!*'()[\]<>^"-]+$/
const LABEL = /^[A-Za-z0-9_-]{1,64}$/
// Whitespace, C0/C1 controls and DEL: never inside one argument.
const ARG_FORBIDDEN = /[\s\u0000-\u001f\u007f-\u009f]/
/** A piece that refers to a hex setting made by viaHex: its value is known only after expansion. */
const HEX_REF = /^\$\{(bpv\d+):string\}$/
/** iPXE options (of any command) that take an argument in the next token. */
const VALUE_OPTIONS = new Set(['--name', '--key', '--timeout', '--default', '--menu', '--drive', '--filename', '--extra', '--uuid'])
/** Commands whose arguments after the image (or image name) become the image's command line. */
/** Commands whose arguments after the image become the kernel's (or the next image's) command line. */
export const CMDLINE_COMMANDS: ReadonlySet<string> = new Set(['kernel', 'chain', 'imgexec', 'imgargs'])

/** A value placed by the builder: either a literal token or a reference to a hex setting. */
export type Piece = string

export class IpxeScript {
  private readonly lines: string[] = ['#!ipxe']
  private hexCount = 0
  /** Values of the hex settings made so far, to check what a reference will expand to. */
  private readonly hexValues = new Map<string, string>()
  private bytes = '#!ipxe\n'.length

  constructor(private readonly maxBytes: number = MAX_SCRIPT_BYTES) {}

  /**
   * A command whose name and flags come from bootpolicy itself (never from a client); values
   * come in pieces made by arg() and text(). Ends the options before a hex positional (see header).
   */
  command(name: string, ...pieces: Piece[]): this {
    const tokens = pieces.flatMap((p) => p.split(' ')).filter((p) => p !== '')
    const out: string[] = [name]
    let i = 0
    // Options that bootpolicy wrote, up to the first positional, a `--`, or a command separator.
    for (; i < tokens.length; i++) {
      const tok = tokens[i]!
      if (tok === '--') break
      if (!tok.startsWith('-') || tok === '||' || tok === '&&' || tok === ';') break
      out.push(tok)
      const next = tokens[i + 1]
      if (VALUE_OPTIONS.has(tok) && next !== undefined) {
        if (this.expandsToDash(next)) out[out.length - 1] = `${tok}=${next}`
        else out.push(next)
        i++
      }
    }
    const rest = tokens.slice(i)
    if (rest[0] !== undefined && this.expandsToDash(rest[0])) out.push('--')
    const end = rest.findIndex((p) => p === '||' || p === '&&' || p === ';')
    const positionals = end === -1 ? rest : rest.slice(0, end)
    if (CMDLINE_COMMANDS.has(name)) this.checkCmdline(name, positionals.filter((p) => p !== '--').slice(1))
    out.push(...rest)
    return this.push(out.join(' '))
  }

  /** A command with a trailing `|| goto <label>`. */
  commandOr(label: string, name: string, ...pieces: Piece[]): this {
    return this.command(name, ...pieces, '||', 'goto', this.labelName(label))
  }

  label(name: string): this {
    return this.push(`:${this.labelName(name)}`)
  }

  blank(): this {
    return this.push('')
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

  /**
   * Whether a piece will start with `-` once iPXE expands it. Only a hex setting can: a literal
   * piece never starts with `-` (arg() and text() route those through hex), and a bpvN setting is
   * set once, on the line before its use, so its value is known here.
   */
  private expandsToDash(piece: string): boolean {
    const ref = HEX_REF.exec(piece)
    return ref !== null && (this.hexValues.get(ref[1]!) ?? '').startsWith('-')
  }

  /** Kernel command-line arguments as Linux will see them: no `"` (quoting), no bare `--` (end of options). */
  private checkCmdline(command: string, args: string[]): void {
    args.forEach((piece, i) => {
      const ref = HEX_REF.exec(piece)
      const value = ref ? (this.hexValues.get(ref[1]!) ?? '') : piece
      const field = `${command} argument ${i + 1}`
      if (value.includes('"')) throw unsafe(field, 'contains ", which makes Linux join the following kernel arguments')
      if (value === '--') throw unsafe(field, 'is --, which makes Linux hand the following kernel arguments to init')
    })
  }

  private push(line: string): this {
    this.bytes += Buffer.byteLength(line) + 1
    if (this.bytes > this.maxBytes) throw new BootpolicyError('BP_ERR_RENDER_TOO_LARGE', { limit: `${this.maxBytes} bytes` })
    this.lines.push(line)
    return this
  }

  private viaHex(value: string): Piece {
    const bytes = Buffer.from(value, 'utf8')
    if (bytes.includes(0)) throw unsafe('value', 'contains a NUL byte')
    const name = `bpv${this.hexCount++}`
    this.push(`set ${name}:hex ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')}`)
    this.hexValues.set(name, value)
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
