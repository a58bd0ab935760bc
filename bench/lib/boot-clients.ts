/**
 * The bench's machines, shared by the servers (which know 1% of them) and the load generators
 * (bench/lib/boot-load.lua for wrk, bench/lib/raw-load.ts): machine n has MAC 52:54:00:nn:nn:nn and
 * sends exactly the query iPXE sends for core's /boot.ipxe bootstrap (BOOTSTRAP_QUERY expanded:
 * MAC and text fields `hexhyp`, empty settings empty). Machines n % 100 == 0 below 100,000 are known.
 */
export const KNOWN_EVERY = 100
export const KNOWN_BELOW = 100_000
export const VARIANTS = {
  sanboot: 'iscsi:san.example.com:6:3260:1:iqn.2007-08.com.example.san:sometarget',
  iqn: 'iqn.2007-08.com.example.initiator:initiator',
}

const hex2 = (b: number) => (b & 0xff).toString(16).padStart(2, '0')
const hexhyp = (text: string) => [...Buffer.from(text)].map(hex2).join('-')
const PRODUCT = hexhyp('Standard PC (Q35 + ICH9, 2009)')
const MANUFACTURER = hexhyp('QEMU')

export function macOf(n: number): string {
  return `52:54:00:${hex2(n >> 16)}:${hex2(n >> 8)}:${hex2(n)}`
}

/** The known machines' MACs (colon form, as ctx.mac holds them) and which of the three boots each gets. */
export function knownMachines(): [string, number][] {
  const out: [string, number][] = []
  for (let n = 0; n < KNOWN_BELOW; n += KNOWN_EVERY) out.push([macOf(n), (n / KNOWN_EVERY) % 3])
  return out
}

/** GET path of machine n (the same text boot-load.lua builds). */
export function bootPath(n: number): string {
  const uuid = `8a5f${hex2(n >> 16)}${hex2(n >> 8)}-${hex2(n)}00-4000-8000-000000000000`
  return (
    `/boot?mac=${macOf(n).replaceAll(':', '-')}&uuid=${uuid}&buildarch=x86_64&platform=efi&ip=10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}` +
    `&hostname_hex=&serial_hex=${hexhyp(`SN${n}`)}&manufacturer_hex=${MANUFACTURER}&product_hex=${PRODUCT}&asset_hex=&user-class_hex=`
  )
}
