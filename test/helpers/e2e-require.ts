/**
 * Preconditions of the end-to-end harness. A missing tool is an error that names the tool and the
 * Debian package that provides it: e2e tests fail loudly instead of skipping.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export class E2eMissingToolError extends Error {
  readonly code = 'BP_E2E_MISSING_TOOL'
  readonly tool: string
  readonly debianPackage: string

  constructor(tool: string, debianPackage: string, detail?: string) {
    super(`e2e: missing tool ${tool} (Debian package ${debianPackage})` + `${detail ? `: ${detail}` : ''}; install it with: apt-get install ${debianPackage}`)
    this.name = 'E2eMissingToolError'
    this.tool = tool
    this.debianPackage = debianPackage
  }
}

// root's PATH has the sbin directories, CI's often does not: dnsmasq and ip live there.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

/** Absolute path of `command`, or E2eMissingToolError naming `debianPackage`. */
export function requireCommand(command: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]
  for (const dir of dirs) {
    const candidate = join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not in this directory
    }
  }
  throw new E2eMissingToolError(command, debianPackage, 'not found on PATH or in the sbin directories')
}

/** `path` if it is a readable file, or E2eMissingToolError naming `debianPackage`. */
export function requireFile(path: string, debianPackage: string): string {
  try {
    accessSync(path, constants.R_OK)
    if (statSync(path).isFile()) return path
  } catch {
    // reported below
  }
  throw new E2eMissingToolError(path, debianPackage, 'file not found')
}

/** Network namespaces, bridges and taps need root (CAP_NET_ADMIN). */
export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new E2eMissingToolError('root privileges', '-', `${what} needs root (CAP_NET_ADMIN); run the e2e tests as root`)
  }
}

/**
 * A statically linked executable has no PT_INTERP program header. The initramfs holds nothing but
 * busybox, so a dynamically linked one (Debian's `busybox` package) cannot run there.
 */
export function isStaticElf(path: string): boolean {
  const elf = readFileSync(path)
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error(`${path} is not a 64-bit ELF file`)
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const phentsize = elf.readUInt16LE(0x36)
  const phnum = elf.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false
  }
  return true
}
