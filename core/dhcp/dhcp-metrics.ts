/**
 * Counters and gauges of the DHCP service, in Prometheus text format, appended to GET /metrics
 * (and printed by the test server). They are how an operator (and a test) sees overload: packets
 * dropped from the receive queue, the queue's length and its high-water mark against its
 * capacity, lease commits against ACKs, and ACKs withheld because their lease was not durable.
 */
import type { GroupCommitStats } from './group-commit.js'

export interface DhcpStats {
  received: number
  malformed: number
  /** Dropped from the full receive queue (the oldest packet gives way). */
  queueDropped: number
  queueLength: number
  queueHighWater: number
  queueCapacity: number
  inFlight: number
  inFlightHighWater: number
  inFlightLimit: number
  offers: number
  acks: number
  naks: number
  /** REQUESTs answered with silence because their lease could not be made durable. */
  acksWithheld: number
  /** Requests not answered because the lease database (PostgreSQL) was unreachable. */
  databaseFailures: number
}

export function newDhcpStats(queueCapacity: number, inFlightLimit: number): DhcpStats {
  return {
    received: 0,
    malformed: 0,
    queueDropped: 0,
    queueLength: 0,
    queueHighWater: 0,
    queueCapacity,
    inFlight: 0,
    inFlightHighWater: 0,
    inFlightLimit,
    offers: 0,
    acks: 0,
    naks: 0,
    acksWithheld: 0,
    databaseFailures: 0,
  }
}

type Kind = 'counter' | 'gauge'

export function renderDhcpMetrics(s: DhcpStats, commits?: Readonly<GroupCommitStats>): string {
  const out: string[] = []
  const add = (name: string, kind: Kind, help: string, lines: Array<[string, number]>): void => {
    out.push(`# HELP bootpolicy_dhcp_${name} ${help}`, `# TYPE bootpolicy_dhcp_${name} ${kind}`)
    for (const [labels, v] of lines) out.push(`bootpolicy_dhcp_${name}${labels} ${v}`)
  }
  add('packets_received_total', 'counter', 'Datagrams read off the DHCP sockets', [['', s.received]])
  add('packets_dropped_total', 'counter', 'Datagrams dropped unanswered, by reason', [
    ['{reason="queue_full"}', s.queueDropped],
    ['{reason="malformed"}', s.malformed],
  ])
  add('queue_length', 'gauge', 'Datagrams waiting in the receive queue', [['', s.queueLength]])
  add('queue_length_max', 'gauge', 'Longest the receive queue has been since the start', [['', s.queueHighWater]])
  add('queue_capacity', 'gauge', 'dhcp.queue.capacity', [['', s.queueCapacity]])
  add('in_flight', 'gauge', 'Requests being answered (deciding, or waiting for their lease commit)', [['', s.inFlight]])
  add('in_flight_max', 'gauge', 'Most requests in flight at once since the start', [['', s.inFlightHighWater]])
  add('in_flight_limit', 'gauge', 'dhcp.queue.inFlight', [['', s.inFlightLimit]])
  add('replies_total', 'counter', 'Replies sent, by message type', [
    ['{type="offer"}', s.offers],
    ['{type="ack"}', s.acks],
    ['{type="nak"}', s.naks],
  ])
  add('acks_withheld_total', 'counter', 'REQUESTs left unanswered because their lease could not be made durable', [['', s.acksWithheld]])
  add('database_failures_total', 'counter', 'Requests left unanswered because the lease database was unreachable (fail closed)', [['', s.databaseFailures]])
  if (commits) {
    add('lease_commits_total', 'counter', 'Lease writes that reached the disk (one fsync each, many changes per write)', [['', commits.commits]])
    add('lease_changes_committed_total', 'counter', 'Lease changes made durable by those writes', [['', commits.committed]])
    add('lease_commit_failures_total', 'counter', 'Lease writes that failed', [['', commits.failures]])
  }
  return `${out.join('\n')}\n`
}
