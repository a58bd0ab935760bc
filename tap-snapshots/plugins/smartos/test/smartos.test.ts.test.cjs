/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`plugins/smartos/test/smartos.test.ts > TAP > smartos.boot renders kernel -B …, module, boot; iPXE hands the kernel root_shadow exactly > rendered script 1`] = `
#!ipxe
set bp-req <id>
set bpv0:hex 63:6f:6e:73:6f:6c:65:3d:74:65:78:74:2c:72:6f:6f:74:5f:73:68:61:64:6f:77:3d:27:24:35:24:72:6f:75:6e:64:73:3d:35:30:30:30:24:73:34:6c:74:53:34:6c:74:24:58:6b:32:76:51:77:39:4c:72:38:6d:33:4e:37:70:54:31:79:5a:62:30:63:44:35:65:46:36:67:48:34:69:4a:32:6b:4c:38:6d:4e:30:70:51:72:37:27:2c:73:6d:61:72:74:6f:73:3d:74:72:75:65
kernel /files/smartos/20130808T195337Z/platform/i86pc/kernel/amd64/unix -B \${bpv0:string} || goto bp_failed
module /files/smartos/20130808T195337Z/platform/i86pc/amd64/boot_archive || goto bp_failed
boot || goto bp_failed

:bp_failed
echo Boot failed (request \${bp-req}), trying the next boot device
sleep 5
exit 1

`
