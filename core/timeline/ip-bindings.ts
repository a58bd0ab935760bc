/**
 * Which MAC holds an IP address now, for filing the events of requests that carry no MAC (/boot.ipxe,
 * /files, TFTP). Two kinds of evidence, both from the network and so both hostile:
 * - a lease: this server's DHCP ACK gave the address to the MAC for the lease time (option 51);
 * - a claim: a proxyDHCP request sent from its ciaddr, or a /boot carrying `mac=` from the address;
 *   the lease time is unknown, so a claim lasts CLAIM_MS after it was last seen.
 * A new lease always wins (the address was given to another machine); a claim does not displace a
 * live lease of another MAC (a client cannot take over a leased address's events by saying a MAC).
 * Bindings past their end are not used, so a reused address never files events under the old MAC.
 * At most `max` entries; the least recently bound goes first.
 */

export type BindingKind = 'lease' | 'claim'

interface Binding {
  readonly mac: string
  readonly kind: BindingKind
  readonly until: number
}

/** How long a claim (no lease time known) keeps the address on the MAC after it was last made. */
export const CLAIM_MS = 60 * 60_000

export class IpBindings {
  private readonly byIp = new Map<string, Binding>()

  constructor(private readonly max: number) {}

  /**
   * Bind the address: 'new' when it now maps to `mac` and did not before (the caller may merge
   * what it filed under `ip:<address>`), 'kept' when the binding was only renewed, undefined when
   * refused (a claim against another MAC's live lease).
   */
  bind(ip: string, mac: string, kind: BindingKind, now: number, lifetimeMs = CLAIM_MS): 'new' | 'kept' | undefined {
    const current = this.live(ip, now)
    if (current && current.mac !== mac && current.kind === 'lease' && kind === 'claim') return undefined
    const same = current?.mac === mac
    // A claim never shortens a lease of the same MAC; a new lease replaces whatever was there.
    const until = same && kind === 'claim' && current.kind === 'lease' ? Math.max(current.until, now + lifetimeMs) : now + lifetimeMs
    const binding: Binding = { mac, kind: same && current.kind === 'lease' ? 'lease' : kind, until }
    this.byIp.delete(ip)
    this.byIp.set(ip, binding)
    if (this.byIp.size > this.max) this.byIp.delete(this.byIp.keys().next().value!)
    return same ? 'kept' : 'new'
  }

  /** The MAC holding the address at `now`, or undefined (never bound, or the binding ended). */
  macOf(ip: string, now: number): string | undefined {
    return this.live(ip, now)?.mac
  }

  get size(): number {
    return this.byIp.size
  }

  private live(ip: string, now: number): Binding | undefined {
    const b = this.byIp.get(ip)
    if (b && now >= b.until) {
      this.byIp.delete(ip)
      return undefined
    }
    return b
  }
}
