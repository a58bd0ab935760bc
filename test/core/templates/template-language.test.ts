/** The template language on real files through TemplateStore: values, forms, sections, errors. */
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TemplateStore } from '../../../core/templates/template-store.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import type { BootContext } from '../../../core/context/types.js'

const ctx = { arch: 'x86_64', remoteAddress: '10.0.0.9', serial: 'SN 1', params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] } as unknown as BootContext

async function store(t: Test, files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'bp-tpl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.ipxe`), text)
  const s = new TemplateStore(dir)
  const problems = await s.load()
  const render = (name: string, vars: Record<string, unknown> = {}) => s.render(name, { ctx, vars, requestId: '${bp-req}' })
  return { dir, s, problems, render }
}

function errorOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn()
  } catch (err) {
    return { code: isBootpolicyError(err) ? err.code : undefined, message: (err as Error).message }
  }
  return { message: 'did not throw' }
}

t.test('values: argument, text and URL forms; #!ipxe added; hex settings right after it', async (t) => {
  const { render } = await store(t, {
    v: 'echo {{ vars.a }} {{ vars.t | text }} {{ ctx.arch }}\nchain /x?s={{ ctx.serial | url }}&r={{ requestId }}\nkernel /k a={{ vars.odd }} n={{ vars.n }} b={{ vars.b }}\n',
  })
  t.equal(
    render('v', { a: 'plain', t: 'Hello, world', odd: 'a;b', n: 3, b: true }),
    '#!ipxe\nset bpv0:hex 61:3b:62\necho plain Hello, world x86_64\nchain /x?s=SN%201&r=${bp-req}\nkernel /k a=${bpv0:string} n=3 b=true\n',
  )
})

t.test('sections: arrays, objects, true values, inverted, the current element, comments', async (t) => {
  const { render } = await store(t, {
    s:
      [
        '#!ipxe',
        '{{! standalone tags leave no blank lines }}',
        '{{#vars.items}}',
        'item {{ id }} {{ text | text }}',
        '{{/vars.items}}',
        '{{^vars.items}}',
        'echo no items',
        '{{/vars.items}}',
        '{{#vars.server}}set base http://{{ host }}/{{ vars.path }}{{/vars.server}}',
        '{{#vars.on}}echo on{{/vars.on}}{{^vars.off}} echo off-is-false{{/vars.off}}',
        '{{#vars.names}}echo {{ . }}',
        '{{/vars.names}}',
      ].join('\n') + '\n',
  })
  t.equal(
    render('s', {
      items: [
        { id: 'a', text: 'First' },
        { id: 'b', text: 'Second' },
      ],
      server: { host: 'h1' },
      path: 'p',
      on: true,
      off: false,
      names: ['x', 'y'],
    }),
    '#!ipxe\nitem a First\nitem b Second\nset base http://h1/p\necho on echo off-is-false\necho x\necho y\n',
  )
  t.equal(render('s', { items: [], server: null, path: 'p', names: [] }), '#!ipxe\necho no items\n\n echo off-is-false\n', 'an inline section leaves its line')
})

t.test('render errors name the template file and line', async (t) => {
  const { dir, render } = await store(t, { e: '#!ipxe\necho ok\necho {{ vars.missing }}\necho {{ vars.obj }}\n', u: '#!ipxe\n\nkernel /k {{ vars.v }}\n' })
  const missing = errorOf(() => render('e', { obj: {} }))
  t.equal(missing.code, 'BP_ERR_RENDER_TEMPLATE')
  t.equal(missing.message, `Template ${join(dir, 'e.ipxe')}:3 failed to render: no value for {{ vars.missing }}`)
  t.match(errorOf(() => render('e', { missing: 'x', obj: { a: 1 } })).message, /e\.ipxe:4 failed to render: \{\{ vars\.obj \}\} is an object, not a text value/)
  const unsafe = errorOf(() => render('u', { v: 'a b' }))
  t.equal(unsafe.code, 'BP_ERR_RENDER_UNSAFE_VALUE')
  t.match(unsafe.message, /u\.ipxe:3 cannot be placed safely in an iPXE script: \{\{ vars\.v \}\} contains whitespace/)
  t.equal(errorOf(() => render('nope')).code, 'BP_ERR_RENDER_TEMPLATE')
})

t.test('output over 256 KiB and more than 10,000 steps are refused at the line that crossed the limit', async (t) => {
  const { render } = await store(t, {
    big: `#!ipxe\n{{#vars.a}}\necho ${'x'.repeat(1000)}\n{{/vars.a}}\n`,
    loop: '#!ipxe\necho start\n{{#vars.a}}{{#vars.a}}{{/vars.a}}{{/vars.a}}\n',
  })
  const a = Array.from({ length: 300 }, (_, i) => i)
  t.match(errorOf(() => render('big', { a })).message, /big\.ipxe:3 failed to render: output is larger than 256 KiB/)
  t.match(errorOf(() => render('loop', { a })).message, /loop\.ipxe:3 failed to render: rendering takes more than 10000 steps/)
  t.match(render('big', { a: a.slice(0, 200) }), /^#!ipxe\necho x{1000}\n/, '200 KiB is fine')
})

t.test('syntax errors are load problems with file and line; the other templates load', async (t) => {
  const { dir, problems, s } = await store(t, {
    good: '#!ipxe\necho ok\n',
    open: '#!ipxe\n{{#vars.a}}\necho x\n',
    cross: '#!ipxe\n{{#vars.a}}\n{{/vars.b}}\n',
    stray: '#!ipxe\n\n{{/vars.a}}\n',
    form: '#!ipxe\necho {{ vars.a | shell }}\n',
    name: '#!ipxe\necho {{ process.exit() }}\n',
  })
  const byFile = Object.fromEntries(problems.map((p) => [p.file.slice(dir.length + 1), p.error]))
  t.same(Object.keys(byFile).sort(), ['cross.ipxe', 'form.ipxe', 'name.ipxe', 'open.ipxe', 'stray.ipxe'])
  t.match(byFile['open.ipxe'], /open\.ipxe:2 is invalid: \{\{#vars\.a\}\} is never closed/)
  t.match(byFile['cross.ipxe'], /cross\.ipxe:3 is invalid: \{\{\/vars\.b\}\} closes \{\{#vars\.a\}\} opened on line 2/)
  t.match(byFile['stray.ipxe'], /stray\.ipxe:3 is invalid: \{\{\/vars\.a\}\} closes no section/)
  t.match(byFile['form.ipxe'], /form\.ipxe:2 is invalid: unknown form "\| shell": use \| text or \| url/)
  t.match(byFile['name.ipxe'], /name\.ipxe:2 is invalid: "process\.exit\(\)" is not a value name/)
  t.same(s.list(), ['good'])
})
