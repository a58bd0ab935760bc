/**
 * `bootpolicy/plugins/smartos`: pure helpers for policies (bundled into the sandbox; no Node APIs).
 * The builds come from the plugin's enrich hook: `ctx.plugins.smartos.builds`, newest first.
 */
import type { BootContext, Decision, MenuDecision, MenuEntry } from 'bootpolicy/policy'

declare module 'bootpolicy/policy' {
  interface PluginFacts {
    smartos: { builds: string[] }
  }
}

export interface SmartosBoot {
  readonly kind: 'smartos.boot'
  readonly build: string
  readonly noimport?: boolean
}

/** Boot one build; `noimport` skips importing the zones pool (recovery). */
export function smartosBoot(build: string, options: { noimport?: boolean } = {}): SmartosBoot {
  return options.noimport ? { kind: 'smartos.boot', build, noimport: true } : { kind: 'smartos.boot', build }
}

/** The builds the plugin found, newest first; empty when the plugin did not enrich this request. */
export function smartosBuilds(ctx: BootContext): string[] {
  const slot = (ctx.plugins as Record<string, unknown>).smartos as { builds?: unknown } | undefined
  return Array.isArray(slot?.builds) ? slot.builds.filter((b): b is string => typeof b === 'string') : []
}

export interface SmartosMenuOptions {
  /** How many of the newest builds get an entry (each with a noimport variant). Default 2. */
  readonly builds?: number
  /** URL of a memtest kernel; no memtest entry when absent. */
  readonly memtest?: string
  readonly memtestText?: string
  readonly title?: string
  /** Default 30 000 (30 s); the default entry is the newest build. */
  readonly timeoutMs?: number
}

const dashes = (n: number): string => '-'.repeat(n)
const heading = (text: string, before: number, after: number): string => `${dashes(before)} ${text} ${dashes(after)}`

/**
 * The menu of seed 002 from the build list: per build a heading, the build and its noimport
 * variant; then utilities (memtest, iPXE shell, reboot) and exit to the local disk. Undefined when
 * no build is known, so that the next policy (or the configured default) answers.
 */
export function smartosMenu(ctx: BootContext, options: SmartosMenuOptions = {}): MenuDecision | undefined {
  const builds = smartosBuilds(ctx).slice(0, Math.max(1, options.builds ?? 2))
  if (builds.length === 0) return undefined
  const items: MenuEntry[] = []
  builds.forEach((build, i) => {
    const n = i === 0 ? '' : String(i + 1)
    if (i > 0) items.push({ gap: dashes(73) })
    items.push({ gap: '' })
    items.push({ gap: heading(`SmartOS option ${i + 1}`, 25, 30) })
    items.push({ id: `smartos${n}`, text: `Boot SmartOS (${build})`, action: smartosBoot(build) as unknown as Decision })
    items.push({ id: `smartos_noimport${n}`, text: `Boot SmartOS (${build}) noimport`, action: smartosBoot(build, { noimport: true }) as unknown as Decision })
  })
  items.push({ gap: heading('Utilities', 30, 33) })
  if (options.memtest) items.push({ id: 'memtest', text: options.memtestText ?? 'Memtest86+', action: { kind: 'boot', kernel: options.memtest } })
  items.push({ id: 'shell', text: 'Enter iPXE shell', action: { kind: 'shell', message: 'Type exit to return to the menu' } })
  items.push({ id: 'reboot', text: 'Reboot', action: { kind: 'reboot' } })
  items.push({ gap: '' })
  items.push({ id: 'exit', text: 'Exit (boot local disk)', action: { kind: 'exit' } })
  return {
    kind: 'menu',
    title: options.title ?? "Welcome to iPXE's Boot Menu",
    items,
    default: 'smartos',
    timeoutMs: options.timeoutMs ?? 30_000,
  }
}
