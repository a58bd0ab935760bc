/**
 * Runs the real DHCP service in its own process, so a test can put it in a network namespace:
 *   ip netns exec NS node --no-node-snapshot --import tsx test/helpers/run-dhcp-server.ts
 * Input: env DHCP_TEST_CONFIG (JSON DhcpConfig), DHCP_TEST_STATE_DIR, optional DHCP_TEST_HOOK
 * (path of a module whose default export is a decideBoot function), DHCP_TEST_LOG_LEVEL, optional
 * DHCP_TEST_STATE (JSON `state` settings: PostgreSQL makes this process a replica sharing leases),
 * optional DHCP_TEST_TIMELINE=1 (record every packet in the machine timeline with the default
 * `timeline` settings, as `serve` does).
 * Output: pino JSON lines on stdout; stdin line `leases` prints {"leases":[...]}, `metrics` prints
 * {"metrics":"<Prometheus text>"} (the service's GET /metrics lines).
 * SIGTERM closes the service cleanly (flushes the lease file) and exits 0.
 */
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { createDhcpService, type DecideBoot } from '../../core/dhcp/dhcp-service.js'
import { openStateBackend, type StateSettings } from '../../core/state/open-state-backend.js'
import type { StateBackend } from '../../core/state/state-backend.js'
import { validateConfig } from '../../core/config/load-config.js'
import { recordDhcp } from '../../core/timeline/record-dhcp.js'
import { Timeline } from '../../core/timeline/timeline.js'
import { JsonFileStateStore } from '../../core/state/state-store.js'

const logger = pino({ level: process.env.DHCP_TEST_LOG_LEVEL ?? 'info' })
const config = JSON.parse(process.env.DHCP_TEST_CONFIG ?? '{}') as Parameters<typeof createDhcpService>[0]
const stateDir = process.env.DHCP_TEST_STATE_DIR ?? '/tmp'
let decideBoot: DecideBoot | undefined
if (process.env.DHCP_TEST_HOOK) {
  decideBoot = ((await import(pathToFileURL(process.env.DHCP_TEST_HOOK).href)) as { default: DecideBoot }).default
}

let state: StateBackend | undefined
try {
  if (process.env.DHCP_TEST_STATE) state = await openStateBackend(JSON.parse(process.env.DHCP_TEST_STATE) as StateSettings, stateDir, { log: logger })
} catch (err) {
  logger.fatal({ err }, 'dhcp test server could not open its state backend')
  process.exit(3)
}
// The timeline as the runtime builds it on the files backend (create-runtime.ts), default settings.
const timeline = process.env.DHCP_TEST_TIMELINE === '1' ? new Timeline({ ...validateConfig({}, stateDir).timeline, store: new JsonFileStateStore(stateDir), logger }) : undefined
const service = createDhcpService(config, {
  logger,
  stateDir,
  ...(state ? { state } : {}),
  ...(decideBoot ? { decideBoot } : {}),
  ...(timeline ? { onPacket: (p) => recordDhcp(timeline, p) } : {}),
})
try {
  await service.start()
} catch (err) {
  logger.fatal({ err }, 'dhcp test server failed to start')
  process.exit(3)
}

// Written directly, so the test sees it whatever the log level.
process.stdout.write(`${JSON.stringify({ level: 30, msg: 'dhcp test server ready' })}\n`)

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim()
  if (command === 'leases') void service.leases().then((leases) => process.stdout.write(`${JSON.stringify({ leases })}\n`))
  if (command === 'metrics') process.stdout.write(`${JSON.stringify({ metrics: service.metrics() })}\n`)
})

process.once('SIGTERM', () => {
  void service.close().then(
    async () => {
      await timeline?.close()
      await state?.close()
      process.exit(0)
    },
    (err: unknown) => {
      logger.error({ err }, 'dhcp test server close failed')
      process.exit(1)
    },
  )
})
