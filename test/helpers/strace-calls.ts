/** Reading `strace -f -o` output in tests that check the order of system calls. */

/**
 * strace -f output as one line per completed call, in order: a call interrupted by another
 * thread's (`<unfinished ...>`) is joined with its `<... resumed>` line and placed where it ended,
 * or where it started when `atEntry` says so. (A line strace wrote whole saw no other thread's
 * call start or end in between, so its place is exact both ways.)
 */
export function completedCalls(text: string, atEntry: (line: string) => boolean = () => false): string[] {
  const open = new Map<string, string>()
  const slot = new Map<string, number>() // a call placed where it started (atEntry): its index
  const out: string[] = []
  for (const raw of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(raw)
    if (!m) continue
    const [, pid, line] = m as unknown as [string, string, string]
    if (line.endsWith('<unfinished ...>')) {
      open.set(pid, line.slice(0, -'<unfinished ...>'.length).trimEnd())
      if (atEntry(line)) slot.set(pid, out.push('') - 1)
      continue
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(line)
    if (resumed) {
      const whole = `${open.get(pid) ?? ''}${resumed[1]}`
      const at = slot.get(pid)
      if (at === undefined) out.push(whole)
      else out[at] = whole
      open.delete(pid)
      slot.delete(pid)
      continue
    }
    out.push(line)
  }
  return out
}
