/**
 * A replica that is killed mid-work, for the state backend's crash tests:
 *   node --import tsx test/helpers/state-replica-child.ts <url> <passwordFile>
 * It writes documents `acked:<n>` one after the other and prints `acked <n>` once each write has
 * resolved; then it takes the lock `crash-lock`, writes `uncommitted` inside a transaction under
 * it, prints `holding` and waits to be killed (SIGKILL) with the transaction open.
 */
import { postgresSettings } from '../../core/state/open-state-backend.js'
import { PostgresStateBackend } from '../../core/state/postgres-backend.js'

const [url, passwordFile, countText] = process.argv.slice(2)
const b = await PostgresStateBackend.open(postgresSettings({ backend: 'postgres', url: url!, passwordFile: passwordFile! }))
const count = Number(countText ?? 50)
for (let n = 1; n <= count; n++) {
  await b.write(`acked:${n}`, { n })
  process.stdout.write(`acked ${n}\n`)
}
await b.transaction(
  async (tx) => {
    await tx.query("INSERT INTO bp_state_documents (key, body, version) VALUES ('uncommitted', '1', 1)", [])
    process.stdout.write('holding\n')
    await new Promise(() => undefined)
  },
  { lock: 'crash-lock' },
)
