/**
 * Seed 000 part 4 (Fedora Magazine "How to Build a Netboot Server"): a menu of Windows (local
 * disk, the default after 5 s), Fedora 29 and Fedora 28. Choosing Fedora asks for a login; after
 * it, the user boots the Fedora kernel from the client's ESP (file:///linux) with a root file
 * system on their own writable copy-on-write iSCSI disk of that release (iscsi-cow plugin:
 * netroot= with a fresh CHAP secret, root=/dev/disk/by-path/…-lun-1).
 * Needs the iscsi-cow plugin with images `fc29` and `fc28`, and an authenticate plugin.
 */
import { again, exit, item, login, menu, type BootContext, type Decision } from 'bootpolicy/policy'
import { iscsiCow } from 'bootpolicy/plugins/iscsi-cow'

const KERNELS: Record<string, string> = {
  fc29: '4.19.5-300.fc29.x86_64',
  fc28: '4.19.3-200.fc28.x86_64',
}
const DNS = ['192.0.2.91', '192.0.2.92']

function bootMenu(): Decision {
  return menu({
    title: 'iPXE Boot Menu',
    items: [
      item('lcl', '1. Microsoft Windows 10', exit(), { key: '1' }),
      item('f29', '2. RedHat Fedora 29', again({ instance: 'fc29' }), { key: '2' }),
      item('f28', '3. RedHat Fedora 28', again({ instance: 'fc28' }), { key: '3' }),
    ],
    default: 'lcl',
    timeoutMs: 5000,
  })
}

export default function fedoraIscsi(ctx: BootContext): Decision | undefined {
  const instance = ctx.params.instance
  const kver = instance === undefined ? undefined : KERNELS[instance]
  if (!instance || !kver) return bootMenu()
  // Seed 000: any failed login shows the menu again.
  if (ctx.auth.status === 'failed') return bootMenu()
  if (ctx.auth.status !== 'authenticated') return login({ params: { instance } })
  return iscsiCow({
    image: instance,
    boot: {
      kernel: `file:///linux/vmlinuz-${kver}`,
      initrds: [`file:///linux/initramfs-${kver}.img`],
      args: ['rw', 'ip=dhcp', 'rd.peerdns=0', ...DNS.map((d) => `nameserver=${d}`), 'console=tty0', 'console=ttyS0,115200n8', 'audit=0', 'selinux=0', 'quiet'],
    },
  })
}
