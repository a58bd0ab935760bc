/**
 * Seed 000 (Fedora Magazine "How to Build a Netboot Server", part 4): a boot menu where choosing a
 * Fedora release asks for a login; after an authenticate plugin (auth-pam, auth-kerberos or ldap)
 * accepted it, that release boots with a writable root on the user's own iSCSI target.
 *
 * Flow: /boot → menu → the item's `login` → /boot?instance=fc29&username_hex=…&password_hex=…
 * → the plugin checks the password before this policy runs → ctx.auth says who it is (never the
 * password) → boot, or the menu again with the reason (wrong password, rate limited, …).
 *
 * The per-user copy-on-write disk and its CHAP secret are the iSCSI plugin's job; the target name
 * is already per user here.
 */
import { boot, exit, gap, item, login, menu, type BootContext, type Decision, type MenuEntry } from 'bootpolicy/policy'

const server = '192.0.2.158'
const iqnBase = 'iqn.edu.example.server-01'
const nameservers = ['192.0.2.91', '192.0.2.92']

/** The releases offered, by instance name (`^fc\d{2}$`). */
const instances: Readonly<Record<string, { title: string; kernel: string; key: string }>> = {
  fc29: { title: '2. RedHat Fedora 29', kernel: '4.19.5-300.fc29.x86_64', key: '2' },
  fc28: { title: '3. RedHat Fedora 28', kernel: '4.19.3-200.fc28.x86_64', key: '3' },
}

const INSTANCE = /^fc\d{2}$/
/** What may appear in an IQN: lower-case letters, digits, `.` and `-` (no `_`, `@` or capitals). */
const TARGET_USER = /^[a-z0-9][a-z0-9.-]{0,31}$/

function bootMenu(message?: string): Decision {
  const items: MenuEntry[] = [
    ...(message ? [gap(message), gap()] : []),
    item('lcl', '1. Microsoft Windows 10', exit(), { key: '1' }),
    ...Object.entries(instances).map(([instance, i]) => item(instance, i.title, login({ params: { instance }, message: `Log in to boot ${i.title.replace(/^\d+\. /, '')}` }), { key: i.key })),
  ]
  return menu({ title: 'iPXE Boot Menu', items, default: 'lcl', timeoutMs: 5000 })
}

function bootInstance(instance: string, user: string): Decision {
  const { kernel } = instances[instance]!
  const target = `${iqnBase}:${instance}-${user}`
  return boot(`/files/${instance}/vmlinuz-${kernel}`, {
    initrds: [`/files/${instance}/initramfs-${kernel}.img`],
    args: [
      'rw',
      'ip=dhcp',
      'rd.peerdns=0',
      ...nameservers.map((n) => `nameserver=${n}`),
      `root=/dev/disk/by-path/ip-${server}:3260-iscsi-${target}-lun-1`,
      `netroot=iscsi:${server}::::${target}`,
      'console=tty0',
      'console=ttyS0,115200n8',
      'audit=0',
      'selinux=0',
      'quiet',
    ],
    message: `Booting ${instance} for ${user}`,
  })
}

export default function fedoraLogin(ctx: BootContext): Decision {
  const instance = ctx.params.instance
  if (instance === undefined) return bootMenu()
  if (!INSTANCE.test(instance) || !Object.hasOwn(instances, instance)) return bootMenu('Unknown instance, choose again')
  const { auth } = ctx
  if (auth.status === 'authenticated' && auth.principal) {
    const user = auth.principal.name
    if (!TARGET_USER.test(user)) return bootMenu('This user name cannot name an iSCSI target')
    return bootInstance(instance, user)
  }
  if (auth.status === 'failed') return bootMenu(`Login failed: ${auth.reason ?? 'refused'}`)
  // An instance without credentials (a bookmark, a retry): ask for them.
  return login({ params: { instance }, message: `Log in to boot ${instance}` })
}
