/**
 * A model of how iPXE executes one script line (src/core/exec.c): split on whitespace, stop at
 * a token starting with `#`, split commands at `||`, `&&`, `;`, then expand `${name:type}` per
 * token, then parse options like src/core/getopt.c (after expansion: a value can become an option).
 * Used to prove that rendered scripts contain exactly the commands we meant.
 */
export interface IpxeCommand {
  /** Expanded tokens, as the command receives them. */
  readonly argv: string[]
  /** What getopt read as options (`--timeout`, `--name=x`, `-n`), with their arguments. */
  readonly options: string[]
  /** Positional arguments after getopt stopped (a `--` ends options and is consumed). */
  readonly args: string[]
}

/** Options that take an argument, per command (iPXE src/hci/commands/*.c, the ones bootpolicy uses). */
const VALUE_OPTIONS: Record<string, readonly string[]> = {
  choose: ['--timeout', '--default', '--menu'],
  item: ['--key', '--menu'],
  menu: ['--name'],
  kernel: ['--name', '--timeout'],
  initrd: ['--name', '--timeout'],
  module: ['--name', '--timeout'],
  chain: ['--name', '--timeout'],
  imgfetch: ['--name', '--timeout'],
  imgexec: ['--name', '--timeout'],
  sanboot: ['--drive', '--filename', '--extra', '--uuid'],
}

/** iPXE's getopt_long: no permutation; stops at the first token not starting with `-`; `--` ends options. */
export function getopt(argv: readonly string[]): { options: string[]; args: string[] } {
  const takes = new Set(VALUE_OPTIONS[argv[0] ?? ''] ?? [])
  const options: string[] = []
  let i = 1
  while (i < argv.length) {
    const tok = argv[i]!
    if (!tok.startsWith('-')) break
    i++
    if (tok === '--') break
    options.push(tok)
    // An option's argument is the next token unless that starts with `-` (get_argv_argument).
    if (takes.has(tok) && i < argv.length && !argv[i]!.startsWith('-')) options.push(argv[i++]!)
  }
  return { options, args: argv.slice(i) }
}

function command(argv: string[]): IpxeCommand {
  return { argv, ...getopt(argv) }
}

export function parseScript(script: string): { labels: string[]; commands: IpxeCommand[] } {
  const settings = new Map<string, string>()
  const labels: string[] = []
  const commands: IpxeCommand[] = []
  for (const line of script.split('\n')) {
    if (line.startsWith('#!ipxe') || line.trim() === '') continue
    if (line.startsWith(':')) {
      labels.push(line.slice(1))
      continue
    }
    const tokens = line.split(/\s+/).filter(Boolean)
    let current: string[] = []
    for (const token of tokens) {
      if (token.startsWith('#')) break
      if (token === '||' || token === '&&' || token === ';') {
        commands.push(command(current))
        current = []
        continue
      }
      current.push(expand(token, settings))
    }
    if (current.length) commands.push(command(current))
    // Model `set name:hex aa:bb` so later expansions see the value.
    const last = commands.at(-1)
    if (last && last.argv[0] === 'set' && last.argv[1]?.endsWith(':hex')) {
      const bytes = (last.argv[2] ?? '')
        .split(':')
        .filter(Boolean)
        .map((h) => parseInt(h, 16))
      settings.set(last.argv[1].slice(0, -4), Buffer.from(bytes).toString('utf8'))
    } else if (last && last.argv[0] === 'set' && last.argv[1]) {
      settings.set(last.argv[1], last.argv.slice(2).join(' '))
    }
  }
  return { labels, commands }
}

/** Like iPXE: the last `${` before the first `}` that follows one is expanded; then scan again from the start. */
function expand(token: string, settings: Map<string, string>): string {
  let s = token
  for (let guard = 0; guard < 1000; guard++) {
    let start = -1
    let end = -1
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '$' && s[i + 1] === '{') start = i
      if (start !== -1 && s[i] === '}') {
        end = i
        break
      }
    }
    if (end === -1) break
    const name = s.slice(start + 2, end).split(':')[0]!
    s = s.slice(0, start) + (settings.get(name) ?? '') + s.slice(end + 1)
  }
  return s
}
