/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`plugins/sysresccd/test/sysresccd.test.ts > TAP > archiso: kernel arguments of the SystemRescue PXE docs, microcode before the initramfs, names for UEFI > archiso script 1`] = `
#!ipxe
set bp-req <id>
kernel /files/sysresccd/sysresccd/boot/x86_64/vmlinuz archisobasedir=sysresccd ip=dhcp archiso_http_srv=http://10.0.0.1:8080/files/sysresccd/ checksum setkmap=de BOOTIF=01-52-54-00-12-34-56 nofirewall initrd=intel_ucode.img initrd=amd_ucode.img initrd=sysresccd.img || goto bp_failed
initrd --name intel_ucode.img /files/sysresccd/sysresccd/boot/intel_ucode.img || goto bp_failed
initrd --name amd_ucode.img /files/sysresccd/sysresccd/boot/amd_ucode.img || goto bp_failed
initrd --name sysresccd.img /files/sysresccd/sysresccd/boot/x86_64/sysresccd.img || goto bp_failed
boot || goto bp_failed

:bp_failed
echo Boot failed (request \${bp-req}), trying the next boot device
sleep 5
exit 1

`

exports[`plugins/sysresccd/test/sysresccd.test.ts > TAP > legacy, unknown arch or bits=cpuid: iPXE tests the CPU; labels stay unique with two entries > legacy menu with cpuid 1`] = `
#!ipxe
set bp-req <id>
set bp_m0_t 0
:bp_m0
menu
item bp_m0_i0 A
item bp_m0_i1 B
choose --timeout \${bp_m0_t} bp_m0_choice || goto bp_m0_esc
set bp_m0_t 0
goto \${bp_m0_choice}
:bp_m0_esc
set bp_m0_t 0
echo Type exit to return to the menu
shell
goto bp_m0
:bp_m0_i0
cpuid --ext 29 && goto sysresccd_0_64 || goto sysresccd_0_32
:sysresccd_0_64
kernel http://10.0.0.1:8080/files/sysresccd/isolinux/rescue64 setkmap=us dodhcp netboot=http://10.0.0.1:8080/files/sysresccd/sysrcd.dat initrd=initram.igz || goto bp_m0_fail
initrd --name initram.igz http://10.0.0.1:8080/files/sysresccd/isolinux/initram.igz || goto bp_m0_fail
boot || goto bp_m0_fail
:sysresccd_0_32
kernel http://10.0.0.1:8080/files/sysresccd/isolinux/rescue32 setkmap=us dodhcp netboot=http://10.0.0.1:8080/files/sysresccd/sysrcd.dat initrd=initram.igz || goto bp_m0_fail
initrd --name initram.igz http://10.0.0.1:8080/files/sysresccd/isolinux/initram.igz || goto bp_m0_fail
boot || goto bp_m0_fail
goto bp_m0
:bp_m0_i1
cpuid --ext 29 && goto sysresccd_1_64 || goto sysresccd_1_32
:sysresccd_1_64
kernel http://10.0.0.1:8080/files/sysresccd/isolinux/rescue64 setkmap=fr dodhcp netboot=http://10.0.0.1:8080/files/sysresccd/sysrcd.dat initrd=initram.igz || goto bp_m0_fail
initrd --name initram.igz http://10.0.0.1:8080/files/sysresccd/isolinux/initram.igz || goto bp_m0_fail
boot || goto bp_m0_fail
:sysresccd_1_32
kernel http://10.0.0.1:8080/files/sysresccd/isolinux/rescue32 setkmap=fr dodhcp netboot=http://10.0.0.1:8080/files/sysresccd/sysrcd.dat initrd=initram.igz || goto bp_m0_fail
initrd --name initram.igz http://10.0.0.1:8080/files/sysresccd/isolinux/initram.igz || goto bp_m0_fail
boot || goto bp_m0_fail
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
