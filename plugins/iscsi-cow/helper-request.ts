/**
 * The one request bin/bootpolicy-tgt-helper accepts, checked as strictly as a network input:
 * it crosses a privilege boundary. Refusals never echo the input (it holds a secret).
 */
import { CHAP_ALPHABET, CHAP_MAX, CHAP_MIN } from './chap-secret.js'
import { USER_PATTERN } from './names.js'

/** A user's account, or the guard account of names.ts guardAccount(): `bp_guard_<instance>-<user>`. */
const GUARD_PATTERN = /^bp_guard_[a-z0-9][a-z0-9-]{0,31}-[a-z0-9][a-z0-9.-]{0,63}$/
const SECRET_PATTERN = new RegExp(`^[${CHAP_ALPHABET}]{${CHAP_MIN},${CHAP_MAX}}$`)

/** The request, or the reason it is refused (never echoing the input: it holds a secret). */
export function parseHelperRequest(text: string): { user: string; secret: string; controlPort?: number } | string {
  let req: unknown
  try {
    req = JSON.parse(text)
  } catch {
    return 'stdin is not one JSON object'
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return 'stdin is not one JSON object'
  const r = req as Record<string, unknown>
  const extra = Object.keys(r).filter((k) => !['op', 'user', 'secret', 'controlPort'].includes(k))
  if (extra.length) return `unknown fields: ${extra.map((k) => JSON.stringify(k.slice(0, 32))).join(', ')}`
  if (r.op !== 'account-new') return 'op must be "account-new"'
  if (typeof r.user !== 'string' || !((USER_PATTERN.test(r.user) && !r.user.includes('..')) || GUARD_PATTERN.test(r.user))) return 'user is not an iscsi-cow account name'
  if (typeof r.secret !== 'string' || !SECRET_PATTERN.test(r.secret)) return `secret must be ${CHAP_MIN}-${CHAP_MAX} letters and digits`
  if (r.controlPort !== undefined && (typeof r.controlPort !== 'number' || !Number.isInteger(r.controlPort) || r.controlPort < 0 || r.controlPort > 32767))
    return 'controlPort must be an integer 0-32767'
  return { user: r.user, secret: r.secret, ...(r.controlPort !== undefined && { controlPort: r.controlPort as number }) }
}
