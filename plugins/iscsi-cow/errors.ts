/**
 * iscsi-cow's own error codes (namespace ISCSI). README.md, "Error codes", documents each one in
 * this order; plugins/iscsi-cow/test/readme-errors.test.ts keeps the two in sync.
 */
import { defineErrors } from 'bootpolicy/plugin'

export const errors = defineErrors('ISCSI', {
  BP_ERR_ISCSI_NAME: {
    message: 'Invalid iSCSI {what} "{value}": {reason}',
    when: 'An iscsi-cow instance, user or host name cannot go into an IQN, a CHAP account or a path unchanged (users: lower-case letters, digits, "." and "-"), or names an image that is not configured.',
    fix: 'Use a conforming name; map directory user names with upper case or "_" to conforming ones before they reach the plugin.',
  },
  BP_ERR_ISCSI_BASE_CHANGED: {
    message: 'Base image {image} ({path}) changed since its first overlay: {details}',
    when: 'The read-only base image of an iscsi-cow instance has another size or mtime than when its first overlay was made; every overlay would read corrupted data, so no overlay is attached.',
    fix: 'Restore the original base (same content and mtime; `chattr +i` it), or give every user a fresh copy with `bootpolicy iscsi reset <instance> <user> --discard` for each user.',
  },
  BP_ERR_ISCSI_BASE_MISSING: {
    message: 'Base image {path} cannot be used: {details}',
    when: 'The base image of an iscsi-cow instance does not exist or is not a regular file or block device.',
    fix: 'Point images.<name>.base at the image file.',
  },
  BP_ERR_ISCSI_COMMAND: {
    message: 'Command failed (exit {exitCode}): {command}: {details}',
    when: 'tgtadm, qemu-img, qemu-storage-daemon, losetup or dmsetup failed, timed out or is not installed; the client got the failsafe script.',
    fix: 'Read `details`; check that tgtd runs (and its control port), that the tools are installed, and the privileges (plugins/iscsi-cow/README.md).',
  },
  BP_ERR_ISCSI_STATE: {
    message: 'iscsi-cow state {file} is unusable: {details}',
    when: "A state file under the plugin's state directory cannot be read or is not valid JSON.",
    fix: 'Check permissions; move the file aside, then `bootpolicy iscsi list` and restart to reconcile.',
  },
  BP_ERR_ISCSI_BUSY: {
    message: 'Disk {key} is locked by process {owner} for more than {timeoutMs} ms',
    when: "Another process (the server or `bootpolicy iscsi`) holds the lock of one user's disk for longer than lockTimeoutMs.",
    fix: 'Wait and retry; if the owner is hung, stop it (a lock of a dead process is taken over by itself).',
  },
  BP_ERR_ISCSI_BACKEND: {
    message: 'The {backend} copy-on-write backend cannot be used: {details}',
    when: 'A disk was made by another backend than the configured one, or the configured backend is missing on this host (dm-snapshot without /dev/mapper/control).',
    fix: 'Set `backend` back, or reset the disk with `--discard`.',
  },
  BP_ERR_ISCSI_UNAUTHENTICATED: {
    message: 'An iscsi-cow disk of {image} needs an authenticated user',
    when: 'A policy returned an `iscsi-cow.disk` decision for a request without an authenticated principal.',
    fix: 'Return `login()` first and `iscsiCow()` only when `ctx.auth.status` is `authenticated`.',
  },
  BP_ERR_ISCSI_NOT_PREPARED: {
    message: 'The iscsi-cow disk of {image} was not prepared',
    when: "An `iscsi-cow.disk` decision was rendered without going through the prepare hook, e.g. as a menu item's action.",
    fix: 'Return `iscsiCow()` as the whole decision (a menu item can `again()` with a parameter that selects it).',
  },
})
