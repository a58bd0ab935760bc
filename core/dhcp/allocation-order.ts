/**
 * Which address a DISCOVER is offered: the one rule both lease backends follow, so a client gets
 * the same answer from the lease file and from PostgreSQL. The embedded backend runs the steps in
 * TypeScript (chooseAddress); the PostgreSQL backend hands ALLOCATION_ORDER to its server-side
 * function (bp_dhcp_offer, lease-migrations.ts) so the choice and the hold are one statement.
 * Each backend says what each step finds in its own store; this file says in which order they
 * are asked and that a reservation ends the search. test/core/dhcp/allocation-order.test.ts runs
 * one table of cases against both backends.
 *
 * - `reservation`: a client with a reservation is offered it and nothing else, whoever holds it.
 * - `previous`: the client's last address (its lease, or its own live offer from this server, so a
 *   retransmitted DISCOVER gets the same offer), unless another client now holds it.
 * - `requested`: option 50, when it lies in the pool and nobody else holds it.
 * - `pool`: a free pool address, never-used ones first, then one whose lease is over; when only
 *   other clients' offers are left, the oldest of them gives way (offers never exhaust the pool).
 *   Where the search starts is the backend's (the file a cursor, PostgreSQL a random point so that
 *   replicas rarely pick the same address).
 */
import type { OfferClaim } from './lease-backend.js'

export const ALLOCATION_ORDER = ['reservation', 'previous', 'requested', 'pool'] as const

export type AllocationStep = (typeof ALLOCATION_ORDER)[number]

/** One backend's lookups: the candidate each step finds for the claim, or undefined. */
export type AllocationSteps = { readonly [S in AllocationStep]: (claim: OfferClaim) => string | undefined }

/** The address to offer, asking the steps in ALLOCATION_ORDER; undefined when none has one. */
export function chooseAddress(claim: OfferClaim, steps: AllocationSteps): string | undefined {
  for (const step of ALLOCATION_ORDER) {
    // A reserved client never falls through to the pool: it gets its reservation or nothing.
    if (step === 'reservation' && claim.fixed !== undefined) return steps.reservation(claim)
    const ip = steps[step](claim)
    if (ip !== undefined) return ip
  }
  return undefined
}
