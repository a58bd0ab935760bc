/**
 * A decision in one short line for the decision record (logged per request): enough to tell one
 * answer from another (which kernel, which SAN disk, which menu), never a credential. URLs lose
 * their user-info and query string (where tokens travel); the line is capped.
 */
import type { Decision } from '../decision/types.js'

const MAX_SUMMARY = 160

export function summarizeDecision(decision: Decision): string {
  const d = decision as Decision & Record<string, unknown>
  let line: string
  switch (decision.kind) {
    case 'boot':
      line = `kernel ${safeUrl(d.kernel)}${Array.isArray(d.initrds) && d.initrds.length ? ` +${d.initrds.length} initrd` : ''}`
      break
    case 'sanboot':
      line = `sanboot ${safeUrl(d.uri)}`
      break
    case 'chain':
      line = `chain ${safeUrl(d.url)}`
      break
    case 'menu': {
      const items = Array.isArray(d.items) ? d.items.filter((i) => i !== null && typeof i === 'object' && 'id' in i).length : 0
      line = `menu ${JSON.stringify(typeof d.title === 'string' ? d.title : '')} (${items} items)`
      break
    }
    case 'template':
      line = `template ${String(d.name)}`
      break
    case 'again':
      // Parameter names only: their values may be anything the policy chose to carry.
      line = `again ${d.params && typeof d.params === 'object' ? Object.keys(d.params).join(',') : ''}`.trimEnd()
      break
    default:
      line = decision.kind // exit, shell, reboot, login, plugin kinds: the kind says it
  }
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY)}…` : line
}

/** `scheme://user:pass@host/path?query` → `scheme://host/path?…`; `iscsi:` URIs carry no user-info. */
function safeUrl(value: unknown): string {
  if (typeof value !== 'string') return ''
  const noUser = value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1')
  const q = noUser.search(/[?#]/)
  return q < 0 ? noUser : `${noUser.slice(0, q)}?…`
}
