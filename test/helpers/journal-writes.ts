/**
 * Child for the journal's syscall test (lease-journal-syscalls.test.ts): one compaction, then one
 * appended batch, on the lease file named by argv[2]; run under strace.
 */
import { LeaseJournal } from '../../core/dhcp/lease-journal.js'

const lease = (i: number) => ({ ip: `10.0.0.${10 + i}`, mac: `02:00:00:00:00:0${i}`, key: `mac:${i}`, state: 'bound' as const, expiresAt: 5e12 })
const journal = new LeaseJournal(process.argv[2]!)
await journal.compact([lease(1)])
await journal.append([lease(2)], () => [lease(1), lease(2)])
await journal.close()
