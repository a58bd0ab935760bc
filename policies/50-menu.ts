/**
 * The boot menu of seed 000 (part 3): local disk by default after 5 seconds, two Fedora
 * releases booted from a read-only iSCSI root, and the iPXE shell.
 */
import { boot, exit, item, menu, shell, type BootContext, type Decision } from 'bootpolicy/policy'

const server = '192.0.2.158'
const iqnBase = 'iqn.edu.example.server-01'

function fedora(release: 28 | 29, kernelVersion: string): Decision {
  const target = `${iqnBase}:fc${release}`
  return boot(`/files/fc${release}/vmlinuz-${kernelVersion}`, {
    initrds: [`/files/fc${release}/initramfs-${kernelVersion}.img`],
    args: [
      'ro',
      'ip=dhcp',
      'rd.peerdns=0',
      'nameserver=192.0.2.91',
      'nameserver=192.0.2.92',
      `root=/dev/disk/by-path/ip-${server}:3260-iscsi-${target}-lun-1`,
      `netroot=iscsi:${server}::::${target}`,
      'console=tty0',
      'console=ttyS0,115200n8',
      'audit=0',
      'selinux=0',
      'quiet',
    ],
  })
}

export default function bootMenu(_ctx: BootContext): Decision {
  return menu({
    title: 'iPXE Boot Menu',
    items: [
      item('lcl', '1. Microsoft Windows 10', exit(), { key: '1' }),
      item('f29', '2. RedHat Fedora 29', fedora(29, '4.19.5-300.fc29.x86_64'), { key: '2' }),
      item('f28', '3. RedHat Fedora 28', fedora(28, '4.19.3-200.fc28.x86_64'), { key: '3' }),
      item('shell', 'iPXE shell', shell("Type 'exit' to get back to the menu"), { key: 's' }),
    ],
    default: 'lcl',
    timeoutMs: 5000,
  })
}
