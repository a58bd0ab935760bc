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
 *
 * Version 2 makes a DORA two statements (postgres-lease-backend.ts): bp_dhcp_offer picks the
 * address in the order allocation-order.ts passes in and holds it in one call (a lost race on
 * UNIQUE(addr) is retried inside it), and bp_dhcp_commit learns `renewal`, so the REQUEST's checks
 * (another client's live lease, the kept boundAt) run in the group commit's transaction instead
 * of a read of their own. Version 3 commits offers asynchronously (bp_dhcp_offer_held): they are
 * holds, never acknowledged. Version 4 takes the DISCOVERs of a burst in one statement
 * (bp_dhcp_offer_many). Version 5 gives a known client's change (its own row, on its address)
 * an UPDATE without a sub-transaction and its DISCOVER's shortcut no bp_dhcp_usable call.
 * Version 6 finds a new machine's pool address by index lookups instead of a scan of the leases.
 * Applied steps are never edited: a change is a new version.
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
  {
    version: 2,
    name: 'one-statement offer and renewal-aware commit',
    sql: `CREATE FUNCTION bp_dhcp_usable(a bigint, k text, pool_start bigint, pool_end bigint, blocked bigint[], now_ms bigint) RETURNS boolean
  LANGUAGE sql STABLE AS $fn$
  SELECT a BETWEEN pool_start AND pool_end AND a <> ALL(blocked)
    AND NOT EXISTS (SELECT 1 FROM bp_dhcp_leases WHERE addr = a AND key <> k AND state <> 'released' AND expires_at > now_ms)
    AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers WHERE addr = a AND key <> k AND expires_at > now_ms)
$fn$;
CREATE FUNCTION bp_dhcp_offer(steps text[], k text, m text, srv text, fixed bigint, requested bigint, pool_start bigint,
  pool_end bigint, blocked bigint[], origin bigint, hold_ms bigint, now_ms bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  step text;
  cand bigint;
  forced boolean;
  size bigint := pool_end - pool_start + 1;
BEGIN
  -- Each attempt is a sub-transaction: one that loses its address to a concurrent offer (UNIQUE(addr))
  -- or a deadlock is rolled back alone, and the next attempt no longer sees that address as free.
  FOR attempt IN 1..8 LOOP
    BEGIN
      cand := NULL;
      forced := false;
      FOREACH step IN ARRAY steps LOOP
        IF step = 'reservation' THEN
          IF fixed IS NOT NULL THEN
            cand := fixed;
            forced := true;
            EXIT;
          END IF;
        ELSIF step = 'previous' THEN
          SELECT l.addr INTO cand FROM bp_dhcp_leases l
            WHERE l.key = k AND l.state <> 'declined' AND bp_dhcp_usable(l.addr, k, pool_start, pool_end, blocked, now_ms);
          IF cand IS NULL THEN
            SELECT o.addr INTO cand FROM bp_dhcp_offers o
              WHERE o.key = k AND o.server = srv AND o.expires_at > now_ms AND bp_dhcp_usable(o.addr, k, pool_start, pool_end, blocked, now_ms);
          END IF;
        ELSIF step = 'requested' THEN
          IF requested IS NOT NULL AND bp_dhcp_usable(requested, k, pool_start, pool_end, blocked, now_ms) THEN
            cand := requested;
          END IF;
        ELSIF step = 'pool' THEN
          -- Two passes in pool order from a random point, each stopping at its first hit (a scan and
          -- sort of the whole pool cost more than the rest of a DORA): never-used, then lease over.
          SELECT a INTO cand FROM (SELECT pool_start + (g + origin) % size AS a FROM generate_series(0, size - 1) AS g) AS p
            WHERE a <> ALL(blocked)
              AND NOT EXISTS (SELECT 1 FROM bp_dhcp_leases l WHERE l.addr = a)
              AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers o WHERE o.addr = a AND o.key <> k AND o.expires_at > now_ms)
            LIMIT 1;
          IF cand IS NULL THEN
            SELECT a INTO cand FROM (SELECT pool_start + (g + origin) % size AS a FROM generate_series(0, size - 1) AS g) AS p
              WHERE bp_dhcp_usable(a, k, pool_start, pool_end, blocked, now_ms)
              LIMIT 1;
          END IF;
          IF cand IS NULL THEN
            -- Only other clients' offers are left: the oldest one gives way.
            DELETE FROM bp_dhcp_offers WHERE (key, server) = (
              SELECT o.key, o.server FROM bp_dhcp_offers o LEFT JOIN bp_dhcp_leases l ON l.addr = o.addr AND l.key <> o.key
              WHERE o.key <> k AND o.addr BETWEEN pool_start AND pool_end AND o.addr <> ALL(blocked)
                AND (l.addr IS NULL OR l.state = 'released' OR l.expires_at <= now_ms)
              ORDER BY o.expires_at LIMIT 1)
            RETURNING addr INTO cand;
          END IF;
        ELSE
          RAISE EXCEPTION 'bp_dhcp_offer: unknown allocation step %', step;
        END IF;
        EXIT WHEN cand IS NOT NULL;
      END LOOP;
      IF cand IS NULL THEN
        RETURN NULL;
      END IF;
      -- The MAC's offers under other keys, an expired offer on the address (any offer, for a
      -- reservation) and this client's offer of another replica on it give way.
      DELETE FROM bp_dhcp_offers WHERE key <> k AND (mac = m OR (addr = cand AND (expires_at <= now_ms OR forced)));
      DELETE FROM bp_dhcp_offers WHERE key = k AND addr = cand AND server <> srv;
      INSERT INTO bp_dhcp_offers (key, server, addr, mac, expires_at) VALUES (k, srv, cand, m, now_ms + hold_ms)
        ON CONFLICT (key, server) DO UPDATE SET addr = EXCLUDED.addr, mac = EXCLUDED.mac, expires_at = EXCLUDED.expires_at;
      RETURN cand;
    EXCEPTION WHEN unique_violation OR deadlock_detected THEN
      NULL;
    END;
  END LOOP;
  RETURN NULL;
END
$fn$;
-- lock_timeout: a change waiting on another replica's open transaction for its address (that
-- transaction is inserting it, so this one would lose anyway) is refused at once instead of
-- queueing whole batches behind each other until the statement timeout.
CREATE OR REPLACE FUNCTION bp_dhcp_commit(changes jsonb, now_ms bigint) RETURNS integer[] LANGUAGE plpgsql
SET lock_timeout = '250ms' AS $fn$
DECLARE
  c jsonb;
  a bigint;
  k text;
  b bigint;
  refused integer[] := '{}';
BEGIN
  FOR c IN SELECT value FROM jsonb_array_elements(changes) LOOP
    a := (c->>'addr')::bigint;
    k := c->>'key';
    BEGIN
      IF c->>'from' IS NOT NULL THEN
        DELETE FROM bp_dhcp_leases WHERE addr = a AND key = c->>'from';
      END IF;
      -- A renewal keeps the boundAt of the client's binding on this address (0 without one): the decline window stays shut.
      IF (c->>'renewal')::boolean IS TRUE THEN
        SELECT bound_at INTO b FROM bp_dhcp_leases WHERE key = k AND addr = a AND state = 'bound';
        b := COALESCE(b, 0);
      ELSE
        b := (c->>'boundAt')::bigint;
      END IF;
      -- Another client's dead record on this address gives way; a live one makes the INSERT fail.
      DELETE FROM bp_dhcp_leases WHERE addr = a AND key <> k AND (state = 'released' OR expires_at <= now_ms);
      INSERT INTO bp_dhcp_leases (key, addr, mac, hostname, state, expires_at, bound_at)
        VALUES (k, a, c->>'mac', c->>'hostname', c->>'state', (c->>'expiresAt')::bigint, b)
        ON CONFLICT (key) DO UPDATE SET addr = EXCLUDED.addr, mac = EXCLUDED.mac, hostname = EXCLUDED.hostname,
          state = EXCLUDED.state, expires_at = EXCLUDED.expires_at, bound_at = EXCLUDED.bound_at, updated_at = now();
      IF c->>'state' = 'bound' THEN
        DELETE FROM bp_dhcp_offers WHERE key = k OR addr = a;
      END IF;
    -- A deadlock (two replicas' batches insert crossing addresses of an exhausted pool) or the
    -- lock timeout: the other transaction holds this address, so this change is refused alone
    -- (its client gets a NAK).
    EXCEPTION WHEN unique_violation OR deadlock_detected OR lock_not_available THEN
      refused := refused || (c->>'seq')::integer;
    END;
  END LOOP;
  RETURN refused;
END
$fn$;`,
  },
  {
    version: 3,
    name: 'offers committed without waiting for the WAL flush',
    // An offer is a hold of a few seconds, never acknowledged to anyone: the files backend keeps
    // it in memory only. Its transaction need not wait for the WAL to reach disk (or a synchronous
    // standby): a database crash loses at most the last offers, and a client then gets another
    // address or a NAK, since the REQUEST's commit (synchronous, in bp_dhcp_commit) checks every
    // other client's lease. set_config(..., true) lasts until the end of the caller's transaction,
    // which is the statement that called this function.
    sql: `CREATE FUNCTION bp_dhcp_offer_held(steps text[], k text, m text, srv text, fixed bigint, requested bigint, pool_start bigint,
  pool_end bigint, blocked bigint[], origin bigint, hold_ms bigint, now_ms bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  RETURN bp_dhcp_offer(steps, k, m, srv, fixed, requested, pool_start, pool_end, blocked, origin, hold_ms, now_ms);
END
$fn$;`,
  },
  {
    version: 4,
    name: 'DISCOVERs in batches, bp_dhcp_usable planned once',
    // bp_dhcp_usable becomes plpgsql: as a SQL function it was not inlined into the callers'
    // statements, and PostgreSQL planned its body again on every call (129 µs of its 141 µs,
    // pg_stat_user_functions during bench/dhcp-dora.ts); plpgsql keeps the plan for the session.
    // Every DISCOVER that arrives while one batch is in the database joins the next
    // (call-batcher.ts): one statement, one transaction for a burst, as bp_dhcp_commit does for
    // REQUESTs. Each claim is bp_dhcp_offer as before, in arrival order, and sees the offers its
    // batch already made. lock_timeout: a claim that would wait on another replica's open batch
    // for its address gets no offer (its client repeats the DISCOVER) instead of holding the
    // whole batch, and after one such wait the others get none at once; the SET clause ends with
    // the call, synchronous_commit off with the transaction (version 3). Batches are at most
    // OFFER_BATCH claims (postgres-lease-backend.ts).
    sql: `CREATE OR REPLACE FUNCTION bp_dhcp_usable(a bigint, k text, pool_start bigint, pool_end bigint, blocked bigint[], now_ms bigint)
  RETURNS boolean LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN a BETWEEN pool_start AND pool_end AND a <> ALL(blocked)
    AND NOT EXISTS (SELECT 1 FROM bp_dhcp_leases WHERE addr = a AND key <> k AND state <> 'released' AND expires_at > now_ms)
    AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers WHERE addr = a AND key <> k AND expires_at > now_ms);
END
$fn$;
CREATE FUNCTION bp_dhcp_offer_many(claims jsonb, steps text[], srv text, pool_start bigint, pool_end bigint,
  blocked bigint[], now_ms bigint) RETURNS bigint[] LANGUAGE plpgsql SET lock_timeout = '250ms' AS $fn$
DECLARE
  c jsonb;
  a bigint;
  got bigint[] := '{}';
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR c IN SELECT value FROM jsonb_array_elements(claims) LOOP
    -- A client whose own binding outlasts the hold is offered that address with nothing written:
    -- its lease already keeps every other client off it (what bp_dhcp_offer would find first, less
    -- the hold row). Not when it is reserved or blocked, or any offer of this key or MAC exists
    -- (bp_dhcp_offer tidies those away).
    SELECT l.addr INTO a FROM bp_dhcp_leases l
      WHERE l.key = c->>'key' AND l.state = 'bound' AND l.expires_at > now_ms + (c->>'holdMs')::bigint
        AND c->>'fixed' IS NULL AND bp_dhcp_usable(l.addr, l.key, pool_start, pool_end, blocked, now_ms)
        AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers o WHERE o.key = l.key OR o.mac = c->>'mac');
    IF a IS NOT NULL THEN
      got := array_append(got, a);
      CONTINUE;
    END IF;
    BEGIN
      a := bp_dhcp_offer(steps, c->>'key', c->>'mac', srv, (c->>'fixed')::bigint, (c->>'requested')::bigint, pool_start, pool_end,
        blocked, (c->>'origin')::bigint, (c->>'holdMs')::bigint, now_ms);
    EXCEPTION WHEN lock_not_available THEN
      -- The rest of the batch waits no more (the SET clause restores the setting at return): an
      -- exhausted pool fought over by two replicas would otherwise add one wait per claim.
      a := NULL;
      PERFORM set_config('lock_timeout', '1ms', true);
    END;
    got := array_append(got, a);
  END LOOP;
  RETURN got;
END
$fn$;`,
  },
  {
    version: 5,
    name: 'known clients without sub-transactions',
    // The steady state of a site is known machines asking again. Their REQUEST's change finds the
    // client's own row on its address: taken with FOR UPDATE SKIP LOCKED (it never waits, so it can
    // neither deadlock nor time out outside a sub-transaction) and updated in columns no index
    // holds, with no offer row of its key or address to tidy away. Anything else (a row locked by
    // another transaction, an offer to remove, another address, a decline) takes version 2's path,
    // one sub-transaction per change. Their DISCOVER's shortcut (version 4) checks its own row's
    // address inline instead of through bp_dhcp_usable: UNIQUE(addr) already keeps every other
    // lease off it, so only the pool bounds, the blocked list and other clients' live offers are
    // left. pgbench against version 4 on one fsyncing cluster (batches of 5 known clients):
    // docs/benchmarks.md, DHCP DORA on PostgreSQL.
    sql: `CREATE OR REPLACE FUNCTION bp_dhcp_commit(changes jsonb, now_ms bigint) RETURNS integer[] LANGUAGE plpgsql
SET lock_timeout = '250ms' AS $fn$
DECLARE
  c jsonb;
  a bigint;
  k text;
  b bigint;
  st text;
  refused integer[] := '{}';
BEGIN
  FOR c IN SELECT value FROM jsonb_array_elements(changes) LOOP
    a := (c->>'addr')::bigint;
    k := c->>'key';
    -- The client's own record on this address, taken without waiting, with no offer to tidy away:
    -- an UPDATE of columns no index holds, no sub-transaction (nothing can conflict or wait).
    IF c->>'from' IS NULL AND (c->>'state' <> 'bound' OR NOT EXISTS (SELECT 1 FROM bp_dhcp_offers WHERE key = k OR addr = a)) THEN
      SELECT l.state, l.bound_at INTO st, b FROM bp_dhcp_leases l WHERE l.key = k AND l.addr = a FOR UPDATE SKIP LOCKED;
      IF FOUND THEN
        IF (c->>'renewal')::boolean IS TRUE THEN
          b := CASE WHEN st = 'bound' THEN COALESCE(b, 0) ELSE 0 END;
        ELSE
          b := (c->>'boundAt')::bigint;
        END IF;
        UPDATE bp_dhcp_leases SET mac = c->>'mac', hostname = c->>'hostname', state = c->>'state',
          expires_at = (c->>'expiresAt')::bigint, bound_at = b, updated_at = now() WHERE key = k;
        CONTINUE;
      END IF;
    END IF;
    BEGIN
      IF c->>'from' IS NOT NULL THEN
        DELETE FROM bp_dhcp_leases WHERE addr = a AND key = c->>'from';
      END IF;
      IF (c->>'renewal')::boolean IS TRUE THEN
        SELECT bound_at INTO b FROM bp_dhcp_leases WHERE key = k AND addr = a AND state = 'bound';
        b := COALESCE(b, 0);
      ELSE
        b := (c->>'boundAt')::bigint;
      END IF;
      DELETE FROM bp_dhcp_leases WHERE addr = a AND key <> k AND (state = 'released' OR expires_at <= now_ms);
      INSERT INTO bp_dhcp_leases (key, addr, mac, hostname, state, expires_at, bound_at)
        VALUES (k, a, c->>'mac', c->>'hostname', c->>'state', (c->>'expiresAt')::bigint, b)
        ON CONFLICT (key) DO UPDATE SET addr = EXCLUDED.addr, mac = EXCLUDED.mac, hostname = EXCLUDED.hostname,
          state = EXCLUDED.state, expires_at = EXCLUDED.expires_at, bound_at = EXCLUDED.bound_at, updated_at = now();
      IF c->>'state' = 'bound' THEN
        DELETE FROM bp_dhcp_offers WHERE key = k OR addr = a;
      END IF;
    -- As in version 2: the address is another client's, or another transaction holds it: this change alone is refused.
    EXCEPTION WHEN unique_violation OR deadlock_detected OR lock_not_available THEN
      refused := refused || (c->>'seq')::integer;
    END;
  END LOOP;
  RETURN refused;
END
$fn$;
CREATE OR REPLACE FUNCTION bp_dhcp_offer_many(claims jsonb, steps text[], srv text, pool_start bigint, pool_end bigint,
  blocked bigint[], now_ms bigint) RETURNS bigint[] LANGUAGE plpgsql SET lock_timeout = '250ms' AS $fn$
DECLARE
  c jsonb;
  a bigint;
  got bigint[] := '{}';
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR c IN SELECT value FROM jsonb_array_elements(claims) LOOP
    SELECT l.addr INTO a FROM bp_dhcp_leases l
      WHERE l.key = c->>'key' AND l.state = 'bound' AND l.expires_at > now_ms + (c->>'holdMs')::bigint
        AND c->>'fixed' IS NULL AND l.addr BETWEEN pool_start AND pool_end AND l.addr <> ALL(blocked)
        AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers o WHERE o.key = l.key OR o.mac = c->>'mac' OR (o.addr = l.addr AND o.expires_at > now_ms));
    IF a IS NOT NULL THEN
      got := array_append(got, a);
      CONTINUE;
    END IF;
    BEGIN
      a := bp_dhcp_offer(steps, c->>'key', c->>'mac', srv, (c->>'fixed')::bigint, (c->>'requested')::bigint, pool_start, pool_end,
        blocked, (c->>'origin')::bigint, (c->>'holdMs')::bigint, now_ms);
    EXCEPTION WHEN lock_not_available THEN
      a := NULL;
      PERFORM set_config('lock_timeout', '1ms', true);
    END;
    got := array_append(got, a);
  END LOOP;
  RETURN got;
END
$fn$;`,
  },
  {
    version: 6,
    name: "a new machine's address found by index lookups",
    // A new machine's DISCOVER asked the pool step's first pass as one query over the pool
    // (generate_series anti-joined with the leases, LIMIT 1). PostgreSQL planned it as a hash
    // anti-join, reading every lease: 2.8 ms a claim with ~30,000 leases
    // (pg_stat_statements during bench/dhcp-dora.ts's new-machine rows), 299 DORA/s against
    // the lease file's 9,855. Now the first 64 candidates from the random origin are probed one
    // index lookup each (in a pool with free addresses one of the first few is free); the rest
    // of the pool is asked as before, so a nearly full pool costs what it did. The rest of
    // bp_dhcp_offer is version 2's.
    sql: `CREATE OR REPLACE FUNCTION bp_dhcp_offer(steps text[], k text, m text, srv text, fixed bigint, requested bigint, pool_start bigint,
  pool_end bigint, blocked bigint[], origin bigint, hold_ms bigint, now_ms bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  step text;
  cand bigint;
  forced boolean;
  probe bigint;
  size bigint := pool_end - pool_start + 1;
BEGIN
  -- Each attempt is a sub-transaction: one that loses its address to a concurrent offer (UNIQUE(addr))
  -- or a deadlock is rolled back alone, and the next attempt no longer sees that address as free.
  FOR attempt IN 1..8 LOOP
    BEGIN
      cand := NULL;
      forced := false;
      FOREACH step IN ARRAY steps LOOP
        IF step = 'reservation' THEN
          IF fixed IS NOT NULL THEN
            cand := fixed;
            forced := true;
            EXIT;
          END IF;
        ELSIF step = 'previous' THEN
          SELECT l.addr INTO cand FROM bp_dhcp_leases l
            WHERE l.key = k AND l.state <> 'declined' AND bp_dhcp_usable(l.addr, k, pool_start, pool_end, blocked, now_ms);
          IF cand IS NULL THEN
            SELECT o.addr INTO cand FROM bp_dhcp_offers o
              WHERE o.key = k AND o.server = srv AND o.expires_at > now_ms AND bp_dhcp_usable(o.addr, k, pool_start, pool_end, blocked, now_ms);
          END IF;
        ELSIF step = 'requested' THEN
          IF requested IS NOT NULL AND bp_dhcp_usable(requested, k, pool_start, pool_end, blocked, now_ms) THEN
            cand := requested;
          END IF;
        ELSIF step = 'pool' THEN
          -- Never-used addresses first, in pool order from a random point: the first 64
          -- candidates one index lookup each (in a pool with free addresses one of the first few
          -- is free), then the rest as one query.
          FOR i IN 0..LEAST(size, 64) - 1 LOOP
            probe := pool_start + (i + origin) % size;
            IF probe <> ALL(blocked)
              AND NOT EXISTS (SELECT 1 FROM bp_dhcp_leases l WHERE l.addr = probe)
              AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers o WHERE o.addr = probe AND o.key <> k AND o.expires_at > now_ms) THEN
              cand := probe;
              EXIT;
            END IF;
          END LOOP;
          IF cand IS NULL AND size > 64 THEN
            SELECT a INTO cand FROM (SELECT pool_start + (g + origin) % size AS a FROM generate_series(64, size - 1) AS g) AS p
              WHERE a <> ALL(blocked)
                AND NOT EXISTS (SELECT 1 FROM bp_dhcp_leases l WHERE l.addr = a)
                AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers o WHERE o.addr = a AND o.key <> k AND o.expires_at > now_ms)
              LIMIT 1;
          END IF;
          IF cand IS NULL THEN
            SELECT a INTO cand FROM (SELECT pool_start + (g + origin) % size AS a FROM generate_series(0, size - 1) AS g) AS p
              WHERE bp_dhcp_usable(a, k, pool_start, pool_end, blocked, now_ms)
              LIMIT 1;
          END IF;
          IF cand IS NULL THEN
            -- Only other clients' offers are left: the oldest one gives way.
            DELETE FROM bp_dhcp_offers WHERE (key, server) = (
              SELECT o.key, o.server FROM bp_dhcp_offers o LEFT JOIN bp_dhcp_leases l ON l.addr = o.addr AND l.key <> o.key
              WHERE o.key <> k AND o.addr BETWEEN pool_start AND pool_end AND o.addr <> ALL(blocked)
                AND (l.addr IS NULL OR l.state = 'released' OR l.expires_at <= now_ms)
              ORDER BY o.expires_at LIMIT 1)
            RETURNING addr INTO cand;
          END IF;
        ELSE
          RAISE EXCEPTION 'bp_dhcp_offer: unknown allocation step %', step;
        END IF;
        EXIT WHEN cand IS NOT NULL;
      END LOOP;
      IF cand IS NULL THEN
        RETURN NULL;
      END IF;
      -- The MAC's offers under other keys, an expired offer on the address (any offer, for a
      -- reservation) and this client's offer of another replica on it give way.
      DELETE FROM bp_dhcp_offers WHERE key <> k AND (mac = m OR (addr = cand AND (expires_at <= now_ms OR forced)));
      DELETE FROM bp_dhcp_offers WHERE key = k AND addr = cand AND server <> srv;
      INSERT INTO bp_dhcp_offers (key, server, addr, mac, expires_at) VALUES (k, srv, cand, m, now_ms + hold_ms)
        ON CONFLICT (key, server) DO UPDATE SET addr = EXCLUDED.addr, mac = EXCLUDED.mac, expires_at = EXCLUDED.expires_at;
      RETURN cand;
    EXCEPTION WHEN unique_violation OR deadlock_detected THEN
      NULL;
    END;
  END LOOP;
  RETURN NULL;
END
$fn$;`,
  },
]
