/**
 * The boot context: one frozen, normalized description of the client asking /boot.
 * Policies receive a copy of it; plugins extend it only through their declared slots.
 * Wire names are documented in docs/reference/boot-context.md.
 */

import type { IntentFacts } from '../lifecycle/intent-types.js'

/** Firmware-and-CPU vocabulary shared by DHCP option 93 and iPXE ${buildarch}/${platform}. */
export type Arch = 'i386-pcbios' | 'x86_64-pcbios' | 'i386-efi' | 'x86_64-efi' | 'arm32-efi' | 'arm64-efi' | 'riscv32-efi' | 'riscv64-efi' | 'unknown'

/** Who the client proved to be, after an authenticate hook accepted its credentials. */
export interface Principal {
  readonly name: string
  readonly groups: readonly string[]
  /** The plugin that authenticated it, e.g. "auth-pam". */
  readonly source: string
}

/** Outcome of the authenticate phase. A password is never part of it. */
export interface AuthState {
  /** `none`: no credentials were sent; `failed`: they were sent and refused. */
  readonly status: 'none' | 'authenticated' | 'failed'
  /** The username the client claimed (validated), present when credentials were sent. */
  readonly username?: string
  readonly principal?: Principal
  /** Human-readable reason for `failed` (never the password, never a backend's stack). */
  readonly reason?: string
}

export interface BootContext {
  /** Canonical lower-case colon form, e.g. `52:54:00:12:34:56`. */
  readonly mac?: string
  /** Lower-case canonical UUID (SMBIOS system UUID as iPXE shows it). */
  readonly uuid?: string
  readonly arch: Arch
  /** Raw iPXE ${buildarch}, e.g. `x86_64`, `i386`, `arm64`. */
  readonly buildarch?: string
  /** Raw iPXE ${platform}: `pcbios` or `efi`. */
  readonly platform?: string
  /** DHCP user class (option 77), e.g. `iPXE`. */
  readonly userClass?: string
  readonly serial?: string
  readonly manufacturer?: string
  readonly product?: string
  readonly asset?: string
  readonly hostname?: string
  /** The IP address iPXE reports for itself (${ip}). */
  readonly ip?: string
  /** The TCP peer address of the request. */
  readonly remoteAddress: string
  /** Admin-defined parameters: `again()` and `login()` round trips, menu choices (`instance`, …). */
  readonly params: Readonly<Record<string, string>>
  readonly auth: AuthState
  /**
   * Facts contributed by plugins' enrich hooks, one slot per plugin name. Plugins type their slot
   * by augmenting `PluginFacts` (declaration merging), e.g. `ldap: { groups: string[] }`.
   */
  readonly plugins: Readonly<Partial<PluginFacts> & Record<string, unknown>>
  /** Fields that were present but malformed and therefore dropped. */
  readonly dropped: readonly string[]
  /** The machine's armed intent (core/lifecycle), absent when none is armed or it expired. */
  readonly intent?: IntentFacts
  /**
   * Context fields that could not be read because shared state is unreachable (`['intent']`): a
   * policy that reads one of them fails closed (BP_ERR_STATE_UNAVAILABLE, the retry failsafe);
   * a policy that never reads them decides as usual.
   */
  readonly unavailable?: readonly string[]
}

/** Credentials from an iPXE `login`: kept apart from the context so that policies never see them. */
export interface Credentials {
  readonly username: string
  readonly password: string
}

/** Typed plugin slots: `declare module 'bootpolicy/policy' { interface PluginFacts { myplugin: {...} } }`. */
// biome-ignore lint/suspicious/noEmptyInterface: an interface, not a type, so that plugins can merge their slots into it
export interface PluginFacts {}
