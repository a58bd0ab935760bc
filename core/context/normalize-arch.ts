import type { Arch } from './types.js'

/**
 * DHCP option 93 (RFC 4578 and the IANA registry) → the shared arch vocabulary.
 * 16+ are the UEFI HTTP-boot variants of the same CPUs.
 */
const OPTION_93: Readonly<Record<number, Arch>> = {
  0: 'i386-pcbios', // x86 BIOS: undionly.kpxe reports buildarch i386 even on 64-bit CPUs
  6: 'i386-efi',
  7: 'x86_64-efi',
  9: 'x86_64-efi', // EFI BC: historically mis-assigned, used by x64 firmware
  10: 'arm32-efi',
  11: 'arm64-efi',
  15: 'i386-efi', // x86 UEFI HTTP
  16: 'x86_64-efi', // x64 UEFI HTTP
  18: 'arm32-efi', // ARM32 UEFI HTTP
  19: 'arm64-efi', // ARM64 UEFI HTTP
  25: 'riscv32-efi',
  27: 'riscv64-efi',
}

/** True for the option-93 values that mean UEFI HTTP boot (the client wants a URL, not a TFTP path). */
export function isHttpBootArch(code: number): boolean {
  return code === 15 || code === 16 || code === 18 || code === 19
}

export function archFromOption93(code: number): Arch {
  return OPTION_93[code] ?? 'unknown'
}

const BUILDARCH: Readonly<Record<string, string>> = {
  i386: 'i386',
  x86_64: 'x86_64',
  arm32: 'arm32',
  arm64: 'arm64',
  riscv32: 'riscv32',
  riscv64: 'riscv64',
}

/** iPXE ${buildarch} + ${platform} → the shared arch vocabulary. */
export function archFromIpxe(buildarch: string | undefined, platform: string | undefined): Arch {
  const cpu = buildarch ? BUILDARCH[buildarch.toLowerCase()] : undefined
  const fw = platform?.toLowerCase()
  if (!cpu || (fw !== 'pcbios' && fw !== 'efi')) return 'unknown'
  const arch = `${cpu}-${fw}`
  return isArch(arch) ? arch : 'unknown'
}

const ARCHES: ReadonlySet<string> = new Set<Arch>(['i386-pcbios', 'x86_64-pcbios', 'i386-efi', 'x86_64-efi', 'arm32-efi', 'arm64-efi', 'riscv32-efi', 'riscv64-efi', 'unknown'])

export function isArch(value: string): value is Arch {
  return ARCHES.has(value)
}

/** `x86_64-efi` → true. */
export function isEfi(arch: Arch): boolean {
  return arch.endsWith('-efi')
}
