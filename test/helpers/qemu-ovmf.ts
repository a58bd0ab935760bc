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
