/**
 * A second initramfs whose /init reports on the serial port without `console=ttyS0`: for entries
 * whose kernel line a plugin writes (SmartOS `-B …`, SystemRescue's `setkmap=… netboot=…`), where
 * the payload's own /init would print to a console that is not the serial port. Linux unpacks
 * concatenated archives and the later /init wins, so `payload initrd + this` is the boot image.
 */
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { writeCpio } from './boot-payload-cpio.js'
import { type BootPayload, PAYLOAD_MARKER } from './boot-payload.js'

export function serialInitOverlay(): Buffer {
  const init = `#!/bin/sh
export PATH=/bin
exec >/dev/ttyS0 2>&1
mount -t proc proc /proc
echo "BOOTPOLICY-E2E-CMDLINE $(cat /proc/cmdline)"
echo "${PAYLOAD_MARKER}"
# Drain the serial buffer before the kernel prints its power-off line (boot-payload.ts).
sleep 0.5
poweroff -f
`
  return gzipSync(
    writeCpio([
      { type: 'char', path: 'dev/ttyS0', major: 4, minor: 64, mode: 0o600 },
      { type: 'file', path: 'init', data: init, mode: 0o755 },
    ]),
  )
}

/** The payload's initrd followed by serialInitOverlay(). */
export function serialReportingInitrd(payload: Pick<BootPayload, 'initrd'>): Buffer {
  return Buffer.concat([readFileSync(payload.initrd), serialInitOverlay()])
}
