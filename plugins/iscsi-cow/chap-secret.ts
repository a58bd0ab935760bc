/**
 * CHAP secrets: 12–16 characters (Microsoft's initiator refuses shorter and longer ones), from the
 * 62 letters and digits — no character that dracut's `netroot=iscsi:user:secret@…`, iPXE's
 * `set password` or a kernel command line would treat specially. Drawn with crypto.randomInt
 * (rejection sampling, no modulo bias): 16 characters carry 95 bits.
 */
import { randomInt } from 'node:crypto'

export const CHAP_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
export const CHAP_MIN = 12
export const CHAP_MAX = 16

export function chapSecret(length = CHAP_MAX): string {
  if (!Number.isInteger(length) || length < CHAP_MIN || length > CHAP_MAX) {
    throw new RangeError(`CHAP secrets must be ${CHAP_MIN}-${CHAP_MAX} characters, not ${length}`)
  }
  let out = ''
  for (let i = 0; i < length; i++) out += CHAP_ALPHABET[randomInt(CHAP_ALPHABET.length)]
  return out
}
