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
  /** When the line was complete (its newline arrived), in ms after QEMU was spawned. */
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

/** Complete lines (blank ones dropped), each stamped with the arrival time of its newline. */
export function serialLines(chunks: readonly SerialChunk[]): SerialLine[] {
  const lines: SerialLine[] = []
  let raw = ''
  let done = 0
  for (const chunk of chunks) {
    raw += chunk.text
    const parts = cleanSerial(raw).split('\n')
    parts.pop() // the unfinished line
    for (; done < parts.length; done++) {
      const text = (parts[done] as string).trimEnd()
      if (text) lines.push({ atMs: chunk.atMs, text })
    }
    done = parts.length
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

const MILESTONES: ReadonlyArray<[keyof BootMilestones, RegExp]> = [
  ['pxeStart', />>Start PXE over IPv4/],
  ['nbpLoaded', /NBP file downloaded successfully/],
  ['ipxeStart', /iPXE \(PCI [^)]*\) starting execution|iPXE initialising devices|Open Source Network Boot Firmware/],
  ['ipxeConfigured', /^net\d+: \d+\.\d+\.\d+\.\d+\//],
  ['scriptLoaded', /: \d+ bytes \[script\]/],
  ['marker', /BOOTPOLICY-E2E-MARKER/],
]

export function bootMilestones(lines: readonly SerialLine[]): BootMilestones {
  const result: BootMilestones = {}
  for (const line of lines) {
    for (const [name, re] of MILESTONES) {
      if (result[name] === undefined && re.test(line.text)) result[name] = line.atMs
    }
    if (result.marker === undefined && /^\S+\.\.\. ok$/.test(line.text)) result.downloadsDone = line.atMs
  }
  return result
}
