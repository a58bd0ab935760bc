/**
 * OVMF knobs set through QEMU's fw_cfg, measured with Debian 12's OVMF (edk2 2022.11).
 */

/**
 * No PXEv4/PXEv6 boot options (`opt/org.tianocore/IPv4PXESupport`, `IPv6PXESupport` = n): the
 * boot manager's first network option is then "UEFI HTTPv4 (MAC:…)", i.e. UEFI HTTP boot.
 */
export const OVMF_NO_PXE: readonly string[] = ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n']

/** Trust these CAs for HTTPS boot: `etc/edk2/https/cacerts` holds an EFI_SIGNATURE_LIST (edk2-cacerts.ts). */
export function ovmfCaCertsArgs(file: string): string[] {
  return ['-fw_cfg', `name=etc/edk2/https/cacerts,file=${file}`]
}

/**
 * The boot manager's lines about the "UEFI HTTPv4 (MAC:…)" option: "loading" (before the download)
 * and "starting" (after it). Either one names the option the firmware chose. On a loaded CI host the
 * serial console has lost characters of one of them (issue 15, CI of stop 18), so a test that asks
 * "did OVMF boot the HTTPv4 option" accepts either line and prints all BdsDxe lines when neither
 * is there.
 */
export function httpBootOptionLines(log: string, mac: string): { readonly chosen: boolean; readonly bdsLines: readonly string[] } {
  const option = `"UEFI HTTPv4 (MAC:${mac.replace(/:/g, '').toUpperCase()})"`
  const bdsLines = log.split('\n').filter((l) => l.includes('BdsDxe:'))
  const chosen = bdsLines.some((l) => /BdsDxe: (?:loading|starting) Boot\d+ /.test(l) && l.includes(option))
  return { chosen, bdsLines }
}
