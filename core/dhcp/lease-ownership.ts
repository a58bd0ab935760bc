/**
 * Who may end a lease. Any host on the segment can send a DHCPDECLINE or DHCPRELEASE naming any
 * address, so full mode follows Kea's rule: the message must name this server (option 54, which
 * RFC 2131 table 5 makes mandatory for both) and the lease must belong to the sender's client key
 * (lease-store checks that). A RELEASE is a unicast from the leased address itself (RFC 2131
 * 4.4.6), so one sent from any other source address is refused too: copying a victim's MAC and
 * client id is not enough to free its lease. A DECLINE of a bound lease counts only within
 * declineWindowSeconds of the ACK the client ARP-checks (lease-store), so a copied identity
 * cannot evict a lease later. Refused messages are logged, rate-limited, because
 * a flood of them must not become a flood of warnings.
 */
import type { Logger } from 'pino'
import { BootpolicyError } from '../errors/bp-error.js'
import type { DhcpClientFacts } from './client-facts.js'

/** Refusals are logged at warn at most this often, with a running count; each one at debug. */
export const IGNORED_WARN_MS = 10_000

/** Why a DECLINE is refused before the lease is looked at; undefined when it may go on. */
export function declineRefusal(ip: string | undefined, serverId: string | undefined, serverAddress: string): string | undefined {
  if (ip === undefined) return 'no requested address (option 50)'
  if (serverId !== serverAddress) return 'no server identifier of this server (option 54)'
  return undefined
}

/** Why a RELEASE is refused before the lease is looked at; undefined when it may go on. */
export function releaseRefusal(ip: string | undefined, serverId: string | undefined, serverAddress: string, sender: string): string | undefined {
  if (ip === undefined) return 'no client address (ciaddr)'
  if (serverId !== serverAddress) return 'no server identifier of this server (option 54)'
  if (sender !== ip) return 'not sent from the leased address'
  return undefined
}

export type IgnoredLog = (log: Logger, kind: 'DECLINE' | 'RELEASE', ip: string | undefined, reason: string, client: DhcpClientFacts) => undefined

/** A logger for refused messages: debug each, warn with BP_ERR_DHCP_NOT_OWNER at most every 10 s. */
export function createIgnoredLog(now: () => number = Date.now): IgnoredLog {
  let lastWarn = -Infinity
  let total = 0
  return (log, kind, ip, reason, client) => {
    total++
    const err = new BootpolicyError('BP_ERR_DHCP_NOT_OWNER', { kind, ip: ip ?? 'no address', reason })
    if (now() - lastWarn >= IGNORED_WARN_MS) {
      lastWarn = now()
      log.warn({ err, client, ignoredTotal: total }, 'dhcp decline or release ignored')
    } else {
      log.debug({ err, client, ignoredTotal: total }, 'dhcp decline or release ignored')
    }
    return undefined
  }
}
