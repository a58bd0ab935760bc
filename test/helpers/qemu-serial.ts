/**
 * Turn a raw serial capture (SeaBIOS, OVMF, iPXE, Linux) into plain text lines with arrival times,
 * and pick the milestones of a network boot out of it.
 */

export interface SerialChunk {
  /** Milliseconds after QEMU was spawned. */
  readonly atMs: number
  readonly text: string
}

export interface SerialLine {
  /** When the line's first character arrived, in ms after QEMU was spawned. */
  readonly startMs: number
  /** When the line was complete (its newline arrived). */
  readonly atMs: number
  readonly text: string
}

/**
 * Plain text: ANSI/VT100 escapes removed, backspaces applied (iPXE erases its "Press Ctrl-B" prompt
 * that way), CR LF and lone CR turned into LF, other control characters dropped.
 */
export function cleanSerial(raw: string): string {
  const noEscapes = raw
    .replace(/\x1b\[[0-9;?=]*[ -/]*[@-~]/g, '') // CSI: colours, cursor, clear screen
    .replace(/\x1b[()][0-9A-Za-z]/g, '') // charset selection
    .replace(/\x1b[@-Z\\-_a-z]/g, '') // two-byte escapes, e.g. ESC c (reset)
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, '\n')
  let out = ''
  for (const ch of noEscapes) {
    if (ch === '\b') {
      if (out.length > 0 && !out.endsWith('\n')) out = out.slice(0, -1)
    } else if (ch === '\n' || ch === '\t' || ch >= ' ') {
      out += ch
    }
  }
  return out.replace(/\n{2,}/g, '\n')
}

/**
 * Complete, non-blank lines with two times: when the line began and when its newline arrived.
 * "Configuring (net0 …)... ok" begins when DHCP starts and ends when it is done; a one-shot line
 * like "net0: 10.0.0.5/…" has both times equal.
 */
export function serialLines(chunks: readonly SerialChunk[]): SerialLine[] {
  const lines: SerialLine[] = []
  let raw = ''
  let done = 0
  // The unfinished line so far and when it began. Backspaces can rewrite it (iPXE's prompt):
  // then it begins again with the chunk that rewrote it.
  let pending = ''
  let pendingStart: number | undefined
  for (const chunk of chunks) {
    raw += chunk.text
    const parts = cleanSerial(raw).split('\n')
    const unfinished = parts.pop() ?? ''
    for (; done < parts.length; done++) {
      const text = (parts[done] as string).trimEnd()
      const continued = pendingStart !== undefined && pending !== '' && text.startsWith(pending.trimEnd())
      if (text) lines.push({ startMs: continued ? (pendingStart as number) : chunk.atMs, atMs: chunk.atMs, text })
      pending = ''
      pendingStart = undefined
    }
    done = parts.length
    if (unfinished.trim() === '') pendingStart = undefined
    else if (pendingStart === undefined || !unfinished.startsWith(pending)) pendingStart = chunk.atMs
    pending = unfinished
  }
  return lines
}

/** The milestones of one network boot, in ms after QEMU was spawned (absent when not seen). */
export interface BootMilestones {
  /** OVMF's own PXE client started (uefi-pxe only). */
  pxeStart?: number
  /** OVMF loaded the NBP (ipxe.efi) over TFTP (uefi-pxe only). */
  nbpLoaded?: number
  /** iPXE began (BIOS ROM: "starting execution"; EFI: "initialising devices"). */
  ipxeStart?: number
  /** iPXE has an IPv4 address (DHCP and the IPv6 wait are over). */
  ipxeConfigured?: number
  /** The first iPXE script was fetched. */
  scriptLoaded?: number
  /** The last "… ok" download line before the kernel took over. */
  downloadsDone?: number
  /** The payload's marker line. */
  marker?: number
}

/** [name, line pattern, take the line's start (true) or end (false)]; the first matching line counts. */
const MILESTONES: ReadonlyArray<[keyof BootMilestones, RegExp, boolean]> = [
  ['pxeStart', />>Start PXE over IPv4/, true],
  ['nbpLoaded', /NBP file downloaded successfully/, false],
  ['ipxeStart', /iPXE \(PCI [^)]*\) starting execution|iPXE initialising devices|Open Source Network Boot Firmware/, true],
  ['ipxeConfigured', /^net\d+: \d+\.\d+\.\d+\.\d+\//, false],
  ['scriptLoaded', /: \d+ bytes \[script\]/, false],
  ['marker', /BOOTPOLICY-E2E-MARKER/, false],
]

export function bootMilestones(lines: readonly SerialLine[]): BootMilestones {
  const result: BootMilestones = {}
  for (const line of lines) {
    for (const [name, re, atStart] of MILESTONES) {
      if (result[name] === undefined && re.test(line.text)) result[name] = atStart ? line.startMs : line.atMs
    }
    if (result.marker === undefined && /^\S+\.\.\. ok$/.test(line.text)) result.downloadsDone = line.atMs
  }
  return result
}
