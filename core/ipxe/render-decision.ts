/**
 * Decision → iPXE script. Every value goes through IpxeScript, which escapes or rejects it, ends
 * options with `--` before a value and caps the script at 1 MiB; labels are generated here, never
 * taken from a decision.
 * Rendering is bounded like validation (core/decision/decision-budget.ts), because a plugin's
 * `prepare` output is rendered without being validated again: each decision and menu entry is
 * counted once in a walk before anything is written, a shared object is refused
 * (BP_ERR_DECISION_SHARED_OBJECT) and the walk stops after MAX_DECISION_NODES
 * (BP_ERR_DECISION_TOO_LARGE), so a DAG is never expanded.
 */
import type { BootContext } from '../context/types.js'
import { DecisionBudget, exceedsBudget, MAX_MENU_DEPTH } from '../decision/decision-budget.js'
import type { BootDecision, Decision, MenuDecision, MenuItem } from '../decision/types.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { IpxeScript, relativeUrlSafe } from './script-builder.js'
import { identityQuery } from './identity-query.js'

/** Renders a plugin-contributed decision kind into the script. */
export type KindRenderer = (decision: Decision, script: IpxeScript, env: RenderEnv, failLabel: string) => void

export interface RenderEnv {
  readonly context: BootContext
  /** Path of the /boot endpoint, for `again` and `login` round trips. */
  readonly bootPath: string
  readonly kinds: ReadonlyMap<string, KindRenderer>
}

const FAILED = 'bp_failed'

export function renderDecision(decision: Decision, env: RenderEnv): string {
  // Before writing anything: a DAG or a huge decision is refused after at most the budget's visits.
  const budget = new DecisionBudget()
  const stop = exceedsBudget(decision, budget)
  if (stop?.verdict === 'shared') throw new BootpolicyError('BP_ERR_DECISION_SHARED_OBJECT', { details: `at ${stop.path}` })
  if (stop?.verdict === 'deep') throw new BootpolicyError('BP_ERR_DECISION_TOO_LARGE', { details: `menus nest deeper than ${MAX_MENU_DEPTH} at ${stop.path}` })
  if (stop) throw new BootpolicyError('BP_ERR_DECISION_TOO_LARGE', { details: `more than ${budget.limit} objects at ${stop.path}` })
  const script = new IpxeScript()
  renderInto(decision, script, env, FAILED, { menus: 0 })
  script.blank().label(FAILED)
  // ${bp-req} is set by the engine on the script's second line: the body stays cacheable.
  script.command('echo', 'Boot failed (request', '${bp-req}),', 'trying the next boot device')
  script.command('sleep', '5')
  script.command('exit', '1')
  return script.toString()
}

interface Counter {
  menus: number
}

function renderInto(decision: Decision, s: IpxeScript, env: RenderEnv, failLabel: string, n: Counter): void {
  switch (decision.kind) {
    case 'boot':
      return renderBoot(decision as BootDecision, s, failLabel)
    case 'menu':
      return renderMenu(decision as MenuDecision, s, env, n)
    case 'chain':
      s.commandOr(failLabel, 'chain', '--autofree', s.arg('url', relativeUrlSafe((decision as { url: string }).url)))
      return
    case 'again': {
      const url = `${env.bootPath}?${identityQuery(env.context, (decision as { params: Record<string, string> }).params)}`
      s.commandOr(failLabel, 'chain', '--replace', '--autofree', s.arg('again', url))
      return
    }
    case 'login': {
      const d = decision as { params?: Record<string, string>; message?: string }
      if (d.message) s.command('echo', s.text(d.message))
      s.commandOr(failLabel, 'login')
      // ${username:hexhyp} and ${password:hexhyp} are expanded by iPXE: lossless for any characters.
      const url = `${env.bootPath}?${identityQuery(env.context, d.params)}&username_hex=\${username:hexhyp}&password_hex=\${password:hexhyp}`
      s.commandOr(failLabel, 'chain', '--replace', '--autofree', url)
      return
    }
    case 'sanboot': {
      const d = decision as { uri: string; initiatorIqn?: string; noDescribe?: boolean }
      if (d.initiatorIqn) s.command('set', 'initiator-iqn', s.arg('initiatorIqn', d.initiatorIqn))
      s.commandOr(failLabel, 'sanboot', d.noDescribe ? '--no-describe' : '', s.arg('uri', d.uri))
      return
    }
    case 'exit': {
      const msg = (decision as { message?: string }).message
      if (msg) s.command('echo', s.text(msg))
      s.command('exit')
      return
    }
    case 'shell': {
      const msg = (decision as { message?: string }).message
      if (msg) s.command('echo', s.text(msg))
      s.command('shell')
      // Leaving the shell at top level ends iPXE (next boot device); in a menu, the menu comes back.
      if (failLabel === FAILED) s.command('exit')
      return
    }
    case 'reboot':
      s.command('reboot')
      return
    case 'template':
      throw new BootpolicyError('BP_ERR_RENDER_UNSAFE_VALUE', {
        field: 'template',
        reason: 'a template decision must be the whole answer, not a menu action',
      })
    default: {
      const render = env.kinds.get(decision.kind)
      if (!render) throw new BootpolicyError('BP_ERR_RENDER_UNKNOWN_KIND', { kind: decision.kind })
      render(decision, s, env, failLabel)
    }
  }
}

/** `kernel`, `initrd`s (named, with `initrd=` for the UEFI stub), `module`s, `boot`: shared with plugins that boot kernels. */
export function renderBoot(d: BootDecision, s: IpxeScript, failLabel: string): void {
  if (d.message) s.command('echo', s.text(d.message))
  const initrds = d.initrds ?? []
  const names = initrdNames(initrds)
  const args = [...(d.args ?? [])]
  // The UEFI stub finds initrds by the name in `initrd=`; BIOS kernels ignore it. Multiboot kernels take modules instead.
  if (!d.modules?.length && !args.some((a) => a.startsWith('initrd='))) {
    for (const name of names) args.push(`initrd=${name}`)
  }
  s.commandOr(failLabel, 'kernel', s.arg('kernel', relativeUrlSafe(d.kernel)), ...args.map((a, i) => s.arg(`args[${i}]`, a)))
  initrds.forEach((url, i) => {
    s.commandOr(failLabel, 'initrd', '--name', s.arg(`initrds[${i}]`, names[i]!), s.arg(`initrds[${i}]`, relativeUrlSafe(url)))
  })
  for (const [i, url] of (d.modules ?? []).entries()) {
    s.commandOr(failLabel, 'module', s.arg(`modules[${i}]`, relativeUrlSafe(url)))
  }
  s.commandOr(failLabel, 'boot')
}

/** Unique, safe image names: the URL's base name where it is plain, else `initrdN`. */
function initrdNames(urls: readonly string[]): string[] {
  const used = new Set<string>()
  return urls.map((url, i) => {
    const base = url.split(/[?#]/)[0]!.split('/').pop() ?? ''
    const name = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/.test(base) && !used.has(base) ? base : `initrd${i}`
    used.add(name)
    return name
  })
}

function renderMenu(d: MenuDecision, s: IpxeScript, env: RenderEnv, n: Counter): void {
  const m = `bp_m${n.menus++}`
  const timeoutVar = `${m}_t`
  const itemLabel = (i: number): string => `${m}_i${i}`
  const items = d.items.map((entry, i) => ({ entry, label: itemLabel(i) }))
  const defaultLabel = items.find(({ entry }) => 'id' in entry && entry.id === d.default)?.label

  // The timeout runs once: after a shell or a failed item the menu waits for a choice.
  s.command('set', timeoutVar, String(d.timeoutMs ?? 0))
  s.label(m)
  s.command('menu', d.title ? s.text(d.title) : '')
  for (const { entry, label } of items) {
    if ('gap' in entry) {
      s.command('item', '--gap', entry.gap === '' ? '' : '--', s.text(entry.gap))
    } else {
      s.command('item', entry.key ? `--key ${entry.key}` : '', label, s.text(entry.text))
    }
  }
  s.commandOr(`${m}_esc`, 'choose', `--timeout \${${timeoutVar}}`, defaultLabel ? `--default ${defaultLabel}` : '', `${m}_choice`)
  s.command('set', timeoutVar, '0')
  s.command('goto', `\${${m}_choice}`)
  s.label(`${m}_esc`)
  s.command('set', timeoutVar, '0')
  s.command('echo', 'Type exit to return to the menu')
  s.command('shell')
  s.command('goto', m)
  for (const { entry, label } of items) {
    if ('gap' in entry) continue
    s.label(label)
    renderInto((entry as MenuItem).action, s, env, `${m}_fail`, n)
    s.command('goto', m)
  }
  s.label(`${m}_fail`)
  s.command('echo', 'Boot failed, back to the menu')
  s.command('sleep', '3')
  s.command('goto', m)
}
