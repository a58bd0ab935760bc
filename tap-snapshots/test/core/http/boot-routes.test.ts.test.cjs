/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/core/http/boot-routes.test.ts > TAP > GET /boot runs the example policies > menu for an unknown x86_64 UEFI client 1`] = `
#!ipxe
set bp-req <id>
set bp_m0_t 5000
:bp_m0
menu iPXE Boot Menu
item --key 1 bp_m0_i0 1. Microsoft Windows 10
item --key 2 bp_m0_i1 2. RedHat Fedora 29
item --key 3 bp_m0_i2 3. RedHat Fedora 28
item --key s bp_m0_i3 iPXE shell
choose --timeout \${bp_m0_t} --default bp_m0_i0 bp_m0_choice || goto bp_m0_esc
set bp_m0_t 0
goto \${bp_m0_choice}
:bp_m0_esc
set bp_m0_t 0
echo Type exit to return to the menu
shell
goto bp_m0
:bp_m0_i0
exit
goto bp_m0
:bp_m0_i1
kernel /files/fc29/vmlinuz-4.19.5-300.fc29.x86_64 ro ip=dhcp rd.peerdns=0 nameserver=192.0.2.91 nameserver=192.0.2.92 root=/dev/disk/by-path/ip-192.0.2.158:3260-iscsi-iqn.edu.example.server-01:fc29-lun-1 netroot=iscsi:192.0.2.158::::iqn.edu.example.server-01:fc29 console=tty0 console=ttyS0,115200n8 audit=0 selinux=0 quiet initrd=initramfs-4.19.5-300.fc29.x86_64.img || goto bp_m0_fail
initrd --name initramfs-4.19.5-300.fc29.x86_64.img /files/fc29/initramfs-4.19.5-300.fc29.x86_64.img || goto bp_m0_fail
boot || goto bp_m0_fail
goto bp_m0
:bp_m0_i2
kernel /files/fc28/vmlinuz-4.19.3-200.fc28.x86_64 ro ip=dhcp rd.peerdns=0 nameserver=192.0.2.91 nameserver=192.0.2.92 root=/dev/disk/by-path/ip-192.0.2.158:3260-iscsi-iqn.edu.example.server-01:fc28-lun-1 netroot=iscsi:192.0.2.158::::iqn.edu.example.server-01:fc28 console=tty0 console=ttyS0,115200n8 audit=0 selinux=0 quiet initrd=initramfs-4.19.3-200.fc28.x86_64.img || goto bp_m0_fail
initrd --name initramfs-4.19.3-200.fc28.x86_64.img /files/fc28/initramfs-4.19.3-200.fc28.x86_64.img || goto bp_m0_fail
boot || goto bp_m0_fail
goto bp_m0
:bp_m0_i3
echo Type 'exit' to get back to the menu
shell
goto bp_m0
:bp_m0_fail
echo Boot failed, back to the menu
sleep 3
goto bp_m0

:bp_failed
echo Boot failed (request \${bp-req}), trying the next boot device
sleep 5
exit 1

`

exports[`test/core/http/boot-routes.test.ts > TAP > GET /boot runs the example policies > per-MAC sanboot 1`] = `
#!ipxe
set bp-req <id>
set initiator-iqn iqn.2007-08.com.example.initiator:initiator
sanboot iscsi:san.example.com:6:3260:0:iqn.2007-08.com.example.san:sometarget || goto bp_failed

:bp_failed
echo Boot failed (request \${bp-req}), trying the next boot device
sleep 5
exit 1

`

exports[`test/core/http/boot-routes.test.ts > TAP > GET /boot.ipxe chains /boot with every identity variable, text ones hex-encoded > bootstrap script 1`] = `
#!ipxe
chain --replace --autofree /boot?mac=\${mac:hexhyp}&uuid=\${uuid}&buildarch=\${buildarch}&platform=\${platform}&ip=\${ip}&hostname_hex=\${hostname:hexhyp}&serial_hex=\${serial:hexhyp}&manufacturer_hex=\${manufacturer:hexhyp}&product_hex=\${product:hexhyp}&asset_hex=\${asset:hexhyp}&user-class_hex=\${user-class:hexhyp} || goto bp_failed
:bp_failed
echo bootpolicy: cannot reach the boot server, trying the next boot device
sleep 5
exit 1

`
