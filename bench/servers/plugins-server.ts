/**
 * A /boot server for bench/content-plugins.ts, run as a child process. Modes:
 * - `without`: bootpolicy with the example policies, no plugins (the baseline);
 * - `with`: the same policies with the smartos, sysresccd and pxelinux-cfg plugins enabled over
 *   small fixture trees (their hooks run on every request; no policy uses them);
 * - `with-content`: as `with`, plus a first policy that sends 3 of every 4 clients to a SmartOS
 *   menu, SystemRescue or pxelinux (decisions rendered by the plugins, pxelinux configs stored).
 * - `noop-hook`: the example policies with one plugin whose onRequest does nothing: the engine path
 *   every plugin with a request hook takes (no whole-response memo), without any plugin work.
 * Prints `{"port": N}` on stdout when it listens.
 */
import { createHash } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { validateConfig, PACKAGE_ROOT } from '../../core/config/load-config.js'
import { build } from '../../core/http/build-app.js'

const mode = process.argv[2] ?? 'with'
const base = mkdtempSync(join(tmpdir(), 'bp-bench-plugins-'))

function write(rel: string, content: string): void {
  mkdirSync(dirname(join(base, rel)), { recursive: true })
  writeFileSync(join(base, rel), content)
}

const plugins: { name: string; path?: string; options: Record<string, unknown> }[] = []
let policiesDir = join(PACKAGE_ROOT, 'policies')
if (mode === 'noop-hook') {
  write('noop.mjs', `export default () => ({ name: 'noop', version: '0.0.0', bootpolicy: '^0.1.0', hooks: { onRequest: async () => {} } })\n`)
  plugins.push({ name: 'noop', path: join(base, 'noop.mjs'), options: {} })
} else if (mode !== 'without') {
  for (const build of ['20130405T010449Z', '20130808T195337Z']) {
    write(`smartos/${build}/platform/i86pc/kernel/amd64/unix`, 'unix\n')
    write(`smartos/${build}/platform/i86pc/amd64/boot_archive`, 'archive\n')
  }
  write('iso/sysresccd/boot/x86_64/vmlinuz', 'kernel\n')
  write('iso/sysresccd/boot/x86_64/sysresccd.img', 'initramfs\n')
  write('iso/sysresccd/boot/intel_ucode.img', 'ucode\n')
  write('iso/sysresccd/x86_64/airootfs.sfs', 'sfs\n')
  write('iso/sysresccd/x86_64/airootfs.sha512', `${createHash('sha512').update('sfs\n').digest('hex')}  airootfs.sfs\n`)
  plugins.push(
    { name: 'smartos', options: { root: join(base, 'smartos'), urlPrefix: '/files/smartos', rootShadow: '$5$s4ltS4lt$Xk2vQw9Lr8m3N7pT1yZb0cD5eF6gH4iJ2kL8mN0pQr7' } },
    { name: 'sysresccd', options: { root: join(base, 'iso'), httpBase: 'http://127.0.0.1/files/sysresccd/' } },
    { name: 'pxelinux-cfg', options: {} },
  )
}
if (mode === 'with-content') {
  policiesDir = join(base, 'policies')
  cpSync(join(PACKAGE_ROOT, 'policies'), policiesDir, { recursive: true, filter: (src) => !/\/policies\/[^/]+\//.test(src.slice(PACKAGE_ROOT.length)) })
  writeFileSync(
    join(policiesDir, '05-content.ts'),
    `import type { BootContext, Decision } from 'bootpolicy/policy'
import { smartosMenu } from 'bootpolicy/plugins/smartos'
import { sysresccdBoot } from 'bootpolicy/plugins/sysresccd'
import { pxelinuxChain } from 'bootpolicy/plugins/pxelinux-cfg'
export default function content(ctx: BootContext): Decision | undefined {
  const n = ctx.mac ? parseInt(ctx.mac.slice(12, 14), 16) % 4 : 3
  if (n === 0) return smartosMenu(ctx)
  if (n === 1) return sysresccdBoot({ keymap: 'de' }) as unknown as Decision
  if (n === 2) return pxelinuxChain({ entries: [{ label: 'linux', kernel: 'vmlinuz', append: 'console=ttyS0' }] }) as unknown as Decision
  return undefined
}
`,
  )
}

const config = validateConfig(
  {
    policies: { dir: policiesDir, watch: false },
    log: { level: 'silent' },
    http: { host: '127.0.0.1', port: 0 },
    stateDir: join(base, 'var'),
    plugins,
  },
  PACKAGE_ROOT,
)
const bp = await build(config)
await bp.app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ port: (bp.app.server.address() as { port: number }).port })}\n`)
