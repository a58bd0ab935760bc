/**
 * The `timeline` component's PostgreSQL schema (applied by core/state/migrations.ts beside the
 * state backend's): every replica's timeline events and decision records, and one summary row per
 * machine that each batch merges its changes into. `id` is the cross-replica order: batches insert
 * under one advisory lock (pg-event-store.ts), so ids become visible in increasing order and a
 * reader that polls `id > last` misses none. Times are epoch milliseconds of the recording replica.
 * Fields and summaries are jsonb (the recorder replaces control characters, so no NUL reaches
 * them); decision records are the decision log's JSON text, kept as text exactly as logged.
 */
import type { Migration } from '../state/migrations.js'

export const TIMELINE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'timeline events, machines and decision records',
    sql: `CREATE TABLE bp_timeline_events (
  id bigserial PRIMARY KEY,
  machine text NOT NULL,
  at bigint NOT NULL,
  source text NOT NULL,
  type text NOT NULL,
  fields jsonb NOT NULL,
  origin text NOT NULL
);
CREATE INDEX bp_timeline_events_machine ON bp_timeline_events (machine, id);
CREATE INDEX bp_timeline_events_at ON bp_timeline_events (at);
CREATE TABLE bp_timeline_machines (
  id text PRIMARY KEY,
  first_seen bigint NOT NULL,
  last_seen bigint NOT NULL,
  summary jsonb NOT NULL
);
CREATE INDEX bp_timeline_machines_last_seen ON bp_timeline_machines (last_seen);
CREATE TABLE bp_decisions (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  req_id text NOT NULL,
  origin text NOT NULL,
  record text NOT NULL
);
CREATE INDEX bp_decisions_at ON bp_decisions (at);`,
  },
]
