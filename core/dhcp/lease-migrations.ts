/**
 * The `dhcp` component's PostgreSQL schema (applied by migrations.ts beside the state backend's).
 * Leases are keyed by client (one row per client key) and UNIQUE(addr): two replicas can never
 * store one address for two clients; the database settles a race, not timing. Offers live in their
 * own table with an expiry (they are holds, never acknowledged), one per client and replica: a
client that hears two replicas holds both offers, so neither address goes to someone else while it
chooses. bp_dhcp_commit applies one group
 * commit in one statement, hence one transaction; a change that would give a live address to a
 * second client is rolled back alone (a sub-transaction) and its seq returned as refused.
 * Addresses are stored as integers (ipv4.ts ipToInt) so the pool is a generate_series.
 */
import type { Migration } from '../state/migrations.js'

export const DHCP_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'leases, offers and group commit',
    sql: `CREATE TABLE bp_dhcp_leases (
  key text PRIMARY KEY,
  addr bigint NOT NULL UNIQUE,
  mac text NOT NULL,
  hostname text,
  state text NOT NULL CHECK (state IN ('bound', 'released', 'declined')),
  expires_at bigint NOT NULL,
  bound_at bigint,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bp_dhcp_offers (
  key text NOT NULL,
  server text NOT NULL,
  addr bigint NOT NULL UNIQUE,
  mac text NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (key, server)
);
CREATE INDEX bp_dhcp_offers_mac ON bp_dhcp_offers (mac);
CREATE INDEX bp_dhcp_offers_expires ON bp_dhcp_offers (expires_at);
CREATE FUNCTION bp_dhcp_commit(changes jsonb, now_ms bigint) RETURNS integer[] LANGUAGE plpgsql AS $fn$
DECLARE
  c jsonb;
  a bigint;
  k text;
  refused integer[] := '{}';
BEGIN
  FOR c IN SELECT value FROM jsonb_array_elements(changes) LOOP
    a := (c->>'addr')::bigint;
    k := c->>'key';
    BEGIN
      IF c->>'from' IS NOT NULL THEN
        DELETE FROM bp_dhcp_leases WHERE addr = a AND key = c->>'from';
      END IF;
      -- Another client's dead record on this address gives way; a live one makes the INSERT fail.
      DELETE FROM bp_dhcp_leases WHERE addr = a AND key <> k AND (state = 'released' OR expires_at <= now_ms);
      INSERT INTO bp_dhcp_leases (key, addr, mac, hostname, state, expires_at, bound_at)
        VALUES (k, a, c->>'mac', c->>'hostname', c->>'state', (c->>'expiresAt')::bigint, (c->>'boundAt')::bigint)
        ON CONFLICT (key) DO UPDATE SET addr = EXCLUDED.addr, mac = EXCLUDED.mac, hostname = EXCLUDED.hostname,
          state = EXCLUDED.state, expires_at = EXCLUDED.expires_at, bound_at = EXCLUDED.bound_at, updated_at = now();
      IF c->>'state' = 'bound' THEN
        DELETE FROM bp_dhcp_offers WHERE key = k OR addr = a;
      END IF;
    EXCEPTION WHEN unique_violation THEN
      refused := refused || (c->>'seq')::integer;
    END;
  END LOOP;
  RETURN refused;
END
$fn$;`,
  },
]
