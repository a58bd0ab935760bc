/** Reading `strace -f -o` output in tests that check the order of system calls. */

/**
 * strace -f output as one line per completed call, in completion order: a call interrupted by
 * another thread's (`<unfinished ...>`) is joined with its `<... resumed>` line, where it ends.
 */
export function completedCalls(text: string): string[] {
  const open = new Map<string, string>()
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(raw)
    if (!m) continue
    const [, pid, line] = m as unknown as [string, string, string]
    if (line.endsWith('<unfinished ...>')) {
      open.set(pid, line.slice(0, -'<unfinished ...>'.length).trimEnd())
      continue
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(line)
    if (resumed) {
      out.push(`${open.get(pid) ?? ''}${resumed[1]}`)
      open.delete(pid)
      continue
    }
    out.push(line)
  }
  return out
}
