/**
 * A model of how iPXE executes one script line (src/core/exec.c): split on whitespace, stop at
 * a token starting with `#`, split commands at `||`, `&&`, `;`, then expand `${name:type}` per
 * token. Used to prove that rendered scripts contain exactly the commands we meant.
 */
export interface IpxeCommand {
  readonly argv: string[]
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
        commands.push({ argv: current })
        current = []
        continue
      }
      current.push(expand(token, settings))
    }
    if (current.length) commands.push({ argv: current })
    // Model `set name:hex aa:bb` so later expansions see the value.
    const last = commands.at(-1)
    if (last && last.argv[0] === 'set' && last.argv[1]?.endsWith(':hex')) {
      const bytes = (last.argv[2] ?? '').split(':').filter(Boolean).map((h) => parseInt(h, 16))
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
