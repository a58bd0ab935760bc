/**
 * A tiny writer for the cpio "newc" format the Linux kernel unpacks as an initramfs.
 * Writing it here (instead of calling cpio) keeps the payload reproducible (mtime 0, uid 0) and
 * lets the archive hold device nodes without mknod.
 */

export type CpioEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly type: 'file'; readonly path: string; readonly data: Buffer | string; readonly mode?: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | { readonly type: 'char'; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4)
}

function record(ino: number, name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`)
  const header = '070701' + [ino, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('')
  const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes])
  return Buffer.concat([head, pad4(head.length), data, pad4(data.length)])
}

/** Serialize `entries` (paths relative, no leading `/`) into one newc archive, trailer included. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, '')
    switch (entry.type) {
      case 'dir':
        parts.push(record(ino++, path, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0)))
        break
      case 'file':
        parts.push(record(ino++, path, S_IFREG | (entry.mode ?? 0o644), Buffer.from(entry.data)))
        break
      case 'symlink':
        parts.push(record(ino++, path, S_IFLNK | 0o777, Buffer.from(entry.target)))
        break
      case 'char':
        parts.push(record(ino++, path, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), [entry.major, entry.minor]))
        break
    }
  }
  parts.push(record(0, 'TRAILER!!!', 0, Buffer.alloc(0)))
  return Buffer.concat(parts)
}
