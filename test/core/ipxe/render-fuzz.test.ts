/**
 * Hostile values in every context field: the rendered script must contain exactly the commands
 * the policy asked for, and each value must arrive in iPXE as the same single argument or text.
 */
import t, { type Test } from 'tap'
import { buildContext } from '../../../core/context/build-context.js'
import { renderDecision } from '../../../core/ipxe/render-decision.js'
import { relativeUrlSafe } from '../../../core/ipxe/script-builder.js'
import type { Decision } from '../../../core/decision/types.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'

const NASTY = [
  '\n',
  '\r',
  ' || shell',
  ' && reboot',
  ' ; ',
  '#',
  '${password}',
  '${',
  '}',
  ':label',
  '&',
  '=',
  '+',
  '%',
  '%0a',
  '"',
  "'",
  '\\',
  '\t',
  '\u0000',
  'é',
  '☃',
  '\u202e',
  '--gap',
  '-',
  '$',
  '${${x}}',
  'goto x',
  '\u0085',
  '  ',
  '-n',
  '--',
  '--delete',
  '--key=x',
  '--autofree',
  '-n x',
  '--name',
]

/** Deterministic pseudo-random generator so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

function hostileValues(count: number, seed: number): string[] {
  const r = rng(seed)
  const out: string[] = [...NASTY]
  while (out.length < count) {
    let s = ''
    const parts = 1 + Math.floor(r() * 5)
    for (let i = 0; i < parts; i++) {
      s += r() < 0.5 ? NASTY[Math.floor(r() * NASTY.length)] : String.fromCharCode(0x20 + Math.floor(r() * 0x5f))
    }
    out.push(s)
  }
  return out
}

function render(decision: Decision): string {
  const { context } = buildContext({ query: new Map(), remoteAddress: '192.0.2.1' })
  return renderDecision(decision, { context, bootPath: '/boot', kinds: new Map() })
}

t.test('display text: any value is shown as one argument, commands unchanged', async (t) => {
  let checked = 0
  for (const value of hostileValues(1500, 1)) {
    const script = render({ kind: 'exit', message: value })
    const { commands, labels } = parseScript(script)
    const names = commands.map((c) => c.argv[0])
    const expectedNames = [...(value.trim() === '' ? [] : ['set']), 'echo', 'exit', 'set', 'echo', 'sleep', 'exit']
    const shown = commands.find((c) => c.argv[0] === 'echo')!
    // Lines that the value produced can only be `set bpvN:hex …` lines, never a command of its own.
    t.same(
      names.filter((n) => n !== 'set'),
      expectedNames.filter((n) => n !== 'set'),
      `commands for ${JSON.stringify(value)}`,
    )
    t.same(labels, ['bp_failed'], 'no label added')
    const expectedText = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').replaceAll('${', '$ {')
    if (/^[A-Za-z0-9 ._~:/?=@%+,!*'()[\]<>^"-]+$/.test(expectedText) && !/(^ | $| {2})/.test(expectedText) && !/(^| )-/.test(expectedText)) {
      t.equal(shown.args.join(' '), expectedText)
    } else if (value !== '') {
      t.equal(shown.args.length, 1, 'the text is one argument')
      t.equal(shown.args[0], expectedText, `hex setting carries the exact text of ${JSON.stringify(value)}`)
      t.same(shown.options, [], 'and never an option of echo')
    }
    checked++
  }
  t.ok(checked >= 1000, `${checked} values checked`)
})

t.test('arguments: a value is one exact argument or rejected, never a new command', async (t) => {
  let accepted = 0
  let rejected = 0
  for (const value of hostileValues(1500, 2)) {
    let script: string
    try {
      script = render({ kind: 'boot', kernel: '/files/vmlinuz', args: [`serial=${value}`], initrds: [] })
    } catch (err) {
      t.ok(isBootpolicyError(err, 'BP_ERR_RENDER_UNSAFE_VALUE'), 'rejected with the catalog code')
      t.ok(/[\s\u0000-\u001f\u007f-\u009f"]/.test(value) || value.includes('${'), `rejected only for whitespace, controls, " or \${: ${JSON.stringify(value)}`)
      rejected++
      continue
    }
    const { commands } = parseScript(script)
    const kernel = commands.filter((c) => c.argv[0] === 'kernel')
    t.equal(kernel.length, 1)
    t.same(kernel[0]!.args, ['/files/vmlinuz', `serial=${value}`], `exact argument for ${JSON.stringify(value)}`)
    t.same(kernel[0]!.options, [], 'no option')
    t.same(
      commands.map((c) => c.argv[0]).filter((n) => n !== 'set'),
      ['kernel', 'goto', 'boot', 'goto', 'echo', 'sleep', 'exit'],
    )
    accepted++
  }
  t.ok(accepted + rejected >= 1000)
  t.ok(accepted > 100 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`)
})

t.test('menu item text from a client cannot add items, labels or commands', async (t) => {
  for (const value of hostileValues(1000, 3)) {
    const script = render({
      kind: 'menu',
      title: value,
      items: [{ id: 'a', text: value, action: { kind: 'exit' } }, { gap: value }],
      default: 'a',
      timeoutMs: 1000,
    })
    const { commands, labels } = parseScript(script)
    t.same(labels, ['bp_m0', 'bp_m0_esc', 'bp_m0_i0', 'bp_m0_fail', 'bp_failed'])
    t.equal(commands.filter((c) => c.argv[0] === 'item').length, 2)
    t.equal(commands.filter((c) => c.argv[0] === 'choose').length, 1)
  }
})

t.test('relative URLs and round trips carry no raw ":" (iPXE 2019 would read a URI scheme)', async (t) => {
  const { context } = buildContext({
    query: new Map([
      ['mac', '52:54:00:00:00:01'],
      ['serial', 'a:b c'],
    ]),
    remoteAddress: '192.0.2.1',
  })
  const env = { context, bootPath: '/boot', kinds: new Map() }
  const scripts = [
    renderDecision({ kind: 'again', params: { step: 'x:y' } }, env),
    renderDecision({ kind: 'login', params: { instance: 'fc29' } }, env),
    renderDecision({ kind: 'chain', url: '/files/a:b' }, env),
    renderDecision({ kind: 'boot', kernel: '/files/k:1', initrds: ['/files/i:1'] }, env),
  ]
  for (const script of scripts) {
    for (const c of parseScript(script).commands) {
      const url = c.argv.find((a) => a.startsWith('/'))
      if (url && ['chain', 'kernel', 'initrd'].includes(c.argv[0]!)) t.notOk(/^[^?]*:|\?.*:/.test(url.replace(/\$\{[^}]*\}/g, '')), `${c.argv[0]} ${url}`)
    }
  }
  const againUrl = parseScript(scripts[0]!)
    .commands.find((c) => c.argv[0] === 'chain')!
    .argv.at(-1)!
  t.match(againUrl, /mac=52-54-00-00-00-01/)
  t.match(againUrl, /serial_hex=61-3a-62-20-63/)
  t.match(againUrl, /step_hex=78-3a-79/)
  t.match(scripts[1]!, /username_hex=\$\{username:hexhyp\}&password_hex=\$\{password:hexhyp\}/)
  t.match(scripts[2]!, /chain --autofree \/files\/a%3Ab /)
})

/** The options bootpolicy itself writes, per command: anything else that getopt reads came from a value. */
const OWN_OPTIONS: Record<string, readonly string[]> = {
  chain: ['--autofree', '--replace'],
  item: ['--gap', '--key'],
  choose: ['--timeout', '--default'],
  initrd: ['--name'],
  sanboot: ['--no-describe'],
}

/** Every command's options are bootpolicy's own (and their arguments are bootpolicy's own labels or settings). */
function ownOptionsOnly(t: Test, script: string, what: string): void {
  for (const c of parseScript(script).commands) {
    const own = OWN_OPTIONS[c.argv[0]!] ?? []
    const flags = c.options.filter((o) => o.startsWith('-'))
    const foreign = flags.filter((o) => !own.includes(o.split('=')[0]!))
    if (foreign.length) t.fail(`${what}: ${c.argv[0]} read ${JSON.stringify(foreign)} as options`)
  }
}

t.test('hazard: option injection — no value becomes an option of echo, menu, item, kernel, initrd, module, chain or sanboot', async (t) => {
  const dashed = hostileValues(600, 4).map((v, i) => (i % 2 ? `-${v}` : v))
  let rendered = 0
  for (const value of [...dashed, '-n', '--', '-', '--delete', '--autofree', '--name=x', '-n hello']) {
    const texts: Decision[] = [
      { kind: 'exit', message: value },
      { kind: 'shell', message: value },
      { kind: 'login', message: value },
      { kind: 'boot', kernel: '/files/vmlinuz', message: value },
      { kind: 'menu', title: value, items: [{ id: 'a', text: value, action: { kind: 'exit', message: value } }, { gap: value }] },
    ]
    for (const d of texts) {
      ownOptionsOnly(t, render(d), `${d.kind} text ${JSON.stringify(value)}`)
      rendered++
    }
    // [decision, command that carries the value, the positional it must be]
    const args: Array<[Decision, string, string]> = [
      [{ kind: 'boot', kernel: value, initrds: [value], modules: [value] }, 'kernel', relativeUrlSafe(value)],
      [{ kind: 'boot', kernel: '/files/vmlinuz', initrds: [`/files/${value}`, value] }, 'initrd', relativeUrlSafe(`/files/${value}`)],
      [{ kind: 'chain', url: value }, 'chain', relativeUrlSafe(value)],
      [{ kind: 'sanboot', uri: value, initiatorIqn: value }, 'sanboot', value],
      [{ kind: 'sanboot', uri: value, noDescribe: true }, 'sanboot', value],
    ]
    for (const [d, name, expected] of args) {
      let script: string
      try {
        script = render(d)
      } catch (err) {
        t.ok(isBootpolicyError(err, 'BP_ERR_RENDER_UNSAFE_VALUE'), 'a refused value is refused with the catalog code')
        continue
      }
      ownOptionsOnly(t, script, `${d.kind} argument ${JSON.stringify(value)}`)
      const carrier = parseScript(script).commands.find((c) => c.argv[0] === name)!
      if (carrier.args[0] !== expected) t.fail(`${name}: ${JSON.stringify(value)} is not the first positional: ${JSON.stringify(carrier.argv)}`)
      rendered++
    }
  }
  t.ok(rendered > 3000, `${rendered} scripts checked`)
})

/**
 * Linux's split of its command line (lib/cmdline.c next_arg, kernel/params.c parse_args): spaces
 * separate arguments except inside `"…"`, and a bare `--` ends the kernel's own arguments.
 */
function linuxKernelArgs(cmdline: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < cmdline.length) {
    while (cmdline[i] === ' ') i++
    if (i >= cmdline.length) break
    let inQuote = false
    let j = i
    for (; j < cmdline.length; j++) {
      if (cmdline[j] === ' ' && !inQuote) break
      if (cmdline[j] === '"') inQuote = !inQuote
    }
    const arg = cmdline.slice(i, j)
    if (arg === '--') break
    out.push(arg)
    i = j + 1
  }
  return out
}

t.test("hazard: kernel command line — split as Linux does, it holds exactly the admin's arguments", async (t) => {
  const r = rng(5)
  let accepted = 0
  let rejected = 0
  for (const value of [...hostileValues(1500, 6), '--', '"', 'a="b', '"x y"']) {
    const admin = ['console=ttyS0', 'quiet', 'root=/dev/sda1']
    const at = Math.floor(r() * (admin.length + 1))
    const args = [...admin.slice(0, at), value, ...admin.slice(at)]
    let script: string
    try {
      script = render({ kind: 'boot', kernel: '/files/vmlinuz', args, initrds: ['/files/initrd.img'] })
    } catch (err) {
      t.ok(isBootpolicyError(err, 'BP_ERR_RENDER_UNSAFE_VALUE'), 'refused with the catalog code')
      t.ok(
        value === '' || value === '--' || /[\s\u0000-\u001f\u007f-\u009f"]/.test(value) || value.includes('${'),
        `refused only for an empty value, --, ", whitespace, controls or \${: ${JSON.stringify(value)}`,
      )
      rejected++
      continue
    }
    const kernel = parseScript(script).commands.find((c) => c.argv[0] === 'kernel')!
    t.same(kernel.options, [], 'the kernel command has no options')
    // iPXE hands the arguments after the image to the kernel joined by single spaces.
    const cmdline = kernel.args.slice(1).join(' ')
    t.same(linuxKernelArgs(cmdline), [...args, 'initrd=initrd.img'], `Linux sees exactly the admin's arguments with ${JSON.stringify(value)}`)
    accepted++
  }
  t.ok(accepted > 200 && rejected > 200, `accepted ${accepted}, rejected ${rejected}`)
})
