/**
 * A 512-byte MBR boot sector, assembled here by hand (x86 real mode, ORG 0x7C00), for sanboot
 * scenarios: it needs no assembler and no guest OS. It writes to COM1 (0x3F8, polling the line
 * status register) rather than through INT 10h, so the text reaches QEMU's serial console whatever
 * the BIOS does with video. What it does:
 *
 *   1. print `E2E-SECTOR-HELLO`;
 *   2. read LBA 1 (CHS 0/0/2) with INT 13h AH=02 from the boot drive (DL) — through iPXE's SAN
 *      hook this is an iSCSI READ;
 *   3. print `E2E-SECTOR-BOOTS=<n>`, n = the first byte of LBA 1 as one digit (`0` on a fresh disk);
 *   4. increment that byte and write LBA 1 back (INT 13h AH=03 — an iSCSI WRITE);
 *   5. print `E2E-SECTOR-WRITTEN` and halt (`cli; hlt`; QEMU keeps running: stop it).
 *
 * A read or write error prints `E2E-SECTOR-FAIL` instead. So a disk that keeps what a previous boot
 * wrote counts up from one boot to the next.
 */
import { writeFileSync } from 'node:fs'

export const SECTOR_HELLO = 'E2E-SECTOR-HELLO'
export const SECTOR_BOOTS = /E2E-SECTOR-BOOTS=(\d)/
export const SECTOR_WRITTEN = 'E2E-SECTOR-WRITTEN'
export const SECTOR_FAIL = 'E2E-SECTOR-FAIL'

/**
 * Whether the boot sector printed after the last `prompt` (a global regex); false when either is
 * missing. Any one of its three lines is proof it ran: a loaded host's serial console drops
 * characters, so one line may arrive garbled (a CI run lost part of HELLO while BOOTS and WRITTEN
 * came through).
 */
export function sectorRanAfter(log: string, prompt: RegExp): boolean {
  const last = [...log.matchAll(prompt)].at(-1)
  if (!last) return false
  const after = log.slice(last.index + last[0].length)
  return after.includes(SECTOR_HELLO) || SECTOR_BOOTS.test(after) || after.includes(SECTOR_WRITTEN)
}

const ORG = 0x7c00

type Part = number[] | { label: string } | { rel8: string } | { rel16: string } | { abs16: string } | { text: string }

/** Two passes: label offsets, then bytes. rel8/rel16 are relative to the end of the field (always an instruction's last field here). */
function assemble(parts: readonly Part[]): Buffer {
  const size = (p: Part): number => (Array.isArray(p) ? p.length : 'label' in p ? 0 : 'rel8' in p ? 1 : 'text' in p ? Buffer.byteLength(p.text) + 1 : 2)
  const labels = new Map<string, number>()
  let at = 0
  for (const p of parts) {
    if (!Array.isArray(p) && 'label' in p) labels.set(p.label, at)
    at += size(p)
  }
  const out: number[] = []
  const addr = (name: string): number => {
    const v = labels.get(name)
    if (v === undefined) throw new Error(`bootsector: no label ${name}`)
    return v
  }
  for (const p of parts) {
    if (Array.isArray(p)) out.push(...p)
    else if ('label' in p) continue
    else if ('text' in p) out.push(...Buffer.from(p.text), 0)
    else if ('abs16' in p) {
      const v = ORG + addr(p.abs16)
      out.push(v & 0xff, v >> 8)
    } else if ('rel8' in p) {
      const d = addr(p.rel8) - (out.length + 1)
      if (d < -128 || d > 127) throw new Error(`bootsector: ${p.rel8} out of rel8 range`)
      out.push(d & 0xff)
    } else {
      const d = (addr(p.rel16) - (out.length + 2)) & 0xffff
      out.push(d & 0xff, d >> 8)
    }
  }
  if (out.length > 446) throw new Error(`bootsector: ${out.length} bytes do not fit before the partition table`)
  const sector = Buffer.alloc(512)
  Buffer.from(out).copy(sector)
  sector[510] = 0x55
  sector[511] = 0xaa
  return sector
}

const L = (label: string): Part => ({ label })

export function counterBootSector(): Buffer {
  const rw = (ah: number): Part[] => [
    [0xbb, 0x00, 0x7e], // mov bx,0x7e00
    [0xb8, 0x01, ah], // mov ax,0x<ah>01 (one sector)
    [0xb9, 0x02, 0x00], // mov cx,0x0002 (cylinder 0, sector 2 = LBA 1)
    [0xb6, 0x00], // mov dh,0 (head 0)
    [0x8a, 0x16],
    { abs16: 'drive' }, // mov dl,[drive]
    [0xcd, 0x13], // int 0x13
    [0x72],
    { rel8: 'fail' }, // jc fail
  ]
  const print = (msg: string): Part[] => [[0xbe], { abs16: msg }, [0xe8], { rel16: 'print' }] // mov si,msg; call print
  return assemble([
    [0xfa, 0xfc], // cli; cld
    [0x31, 0xc0], // xor ax,ax
    [0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0], // mov ds,ax; mov es,ax; mov ss,ax
    [0xbc, 0x00, 0x7c], // mov sp,0x7c00
    [0xfb], // sti
    [0x88, 0x16],
    { abs16: 'drive' }, // mov [drive],dl
    ...print('hello'),
    ...rw(0x02),
    ...print('boots'),
    [0xa0, 0x00, 0x7e], // mov al,[0x7e00]
    [0x04, 0x30], // add al,'0'
    [0xe8],
    { rel16: 'putc' },
    ...print('crlf'),
    [0xfe, 0x06, 0x00, 0x7e], // inc byte [0x7e00]
    ...rw(0x03),
    ...print('written'),
    L('halt'),
    [0xfa, 0xf4], // cli; hlt
    [0xeb],
    { rel8: 'halt' },
    L('fail'),
    ...print('failed'),
    [0xeb],
    { rel8: 'halt' },
    L('putc'), // al = the character
    [0x52, 0x50], // push dx; push ax
    [0xba, 0xfd, 0x03], // mov dx,0x3fd (line status)
    L('wait'),
    [0xec], // in al,dx
    [0xa8, 0x20], // test al,0x20 (transmit holding register empty)
    [0x74],
    { rel8: 'wait' },
    [0x58], // pop ax
    [0xba, 0xf8, 0x03], // mov dx,0x3f8
    [0xee], // out dx,al
    [0x5a, 0xc3], // pop dx; ret
    L('print'), // si = zero-terminated text
    [0xac], // lodsb
    [0x84, 0xc0], // test al,al
    [0x74],
    { rel8: 'pdone' },
    [0xe8],
    { rel16: 'putc' },
    [0xeb],
    { rel8: 'print' },
    L('pdone'),
    [0xc3],
    L('drive'),
    [0x80],
    L('hello'),
    { text: `\r\n${SECTOR_HELLO}\r\n` },
    L('boots'),
    { text: 'E2E-SECTOR-BOOTS=' },
    L('crlf'),
    { text: '\r\n' },
    L('written'),
    { text: `${SECTOR_WRITTEN}\r\n` },
    L('failed'),
    { text: `${SECTOR_FAIL}\r\n` },
  ])
}

/** A raw disk image of `sizeMiB` MiB: the counter boot sector, then zeros (LBA 1's counter starts at 0). */
export function writeCounterDisk(path: string, sizeMiB = 4): void {
  const disk = Buffer.alloc(sizeMiB * 1024 * 1024)
  counterBootSector().copy(disk)
  writeFileSync(path, disk)
}
