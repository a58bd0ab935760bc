/**
 * The HTTP front door: a fastify app over a runtime (core/runtime). `build(config)` creates both
 * and returns a ready instance that does not listen yet; tests call it and use `app.inject()`;
 * core/server.ts binds ports and handles signals.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { requestChildLogger } from '../log/logger.js'
import type { Config } from '../config/config-types.js'
import type { Engine } from '../engine/engine.js'
import type { Metrics } from '../metrics/metrics.js'
import type { LoadedPlugin } from '../plugins/load-plugins.js'
import type { PluginHost } from '../plugins/plugin-host.js'
import type { PolicySet } from '../policy/policy-set.js'
import type { WorkerPool } from '../policy/worker-pool.js'
import type { TemplateStore } from '../templates/template-store.js'
import { createRuntime, type Runtime, type RuntimeOptions } from '../runtime/create-runtime.js'
import { registerBootRoutes } from './routes/boot.js'
import { registerExplainRoute } from './routes/explain.js'
import { registerCallbackRoutes } from './routes/callback.js'
import { registerIntentRoutes } from './routes/intents.js'
import { registerLoginRoutes } from './routes/login.js'
import { registerMachineRoutes } from './routes/machines.js'
import { healthReport, registerHealthRoutes, type HealthReport } from './routes/health.js'
import { registerStaticFiles } from './routes/static-files.js'
import { applyConnectionLimits } from './connection-limits.js'
import { OperatorSessions } from '../auth/operator-sessions.js'
import type { ApiAccess } from './admin-auth.js'

export type BuildOptions = RuntimeOptions

export interface Bootpolicy {
  readonly app: FastifyInstance
  /** What the app runs over; DHCP and TFTP use the same one. */
  readonly runtime: Runtime
  readonly engine: Engine
  readonly policies: PolicySet
  /** The worker threads that run the policies. */
  readonly policyWorkers: WorkerPool
  readonly templates: TemplateStore
  readonly metrics: Metrics
  readonly logger: Logger
  readonly config: Config
  /** The plugin host (no plugins: an empty host). */
  readonly plugins: PluginHost
  readonly loadedPlugins: readonly LoadedPlugin[]
  /** What /healthz reports. */
  health(): HealthReport
  /** Closes the app, then the runtime. */
  close(): Promise<void>
}

export async function build(config: Config, options: BuildOptions = {}): Promise<Bootpolicy> {
  const runtime = await createRuntime(config, options)
  let app: FastifyInstance
  try {
    app = await createHttpApp(runtime)
  } catch (err) {
    await runtime.close()
    throw err
  }
  const { engine, policies, policyWorkers, templates, metrics, logger, plugins, loadedPlugins } = runtime
  return {
    app,
    runtime,
    engine,
    policies,
    policyWorkers,
    templates,
    metrics,
    logger,
    config,
    plugins,
    loadedPlugins,
    health: () => healthReport(policies, runtime.problems),
    async close() {
      await app.close()
      await runtime.close()
    },
  }
}

/** The fastify app over a runtime, ready (not listening). Closing it leaves the runtime running. */
export async function createHttpApp(runtime: Runtime): Promise<FastifyInstance> {
  const { config, engine, logger, metrics, policies, plugins: host } = runtime
  const app = Fastify({
    loggerInstance: logger,
    // Our own access line (with the query's secrets redacted) replaces fastify's.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: nextRequestId,
    childLoggerFactory: (parent, bindings, options) => requestChildLogger(parent as unknown as Logger, bindings, options),
    // iPXE sends short queries; anything near this is hostile.
    // /boot decodes its raw query itself (parse-ipxe-query.ts) and no route reads `req.query`
    // (/healthz reads its one flag from the raw URL): fastify's own parse of every hostile query
    // would be work and garbage for nothing.
    routerOptions: { maxParamLength: 4096, querystringParser: () => ({}) },
    bodyLimit: 64 * 1024,
    // iPXE's requests are tiny and sent at once: short timeouts close what an attacker holds open.
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: Math.max(config.http.requestTimeoutMs, config.http.headersTimeoutMs),
    connectionTimeout: config.http.idleTimeoutMs,
    http: serverTimeouts(config),
    ...(config.http.tls && {
      https: {
        ...serverTimeouts(config),
        cert: readFileSync(config.http.tls.cert),
        key: readFileSync(config.http.tls.key),
        ciphers: config.http.tls.ciphers,
        minVersion: config.http.tls.minVersion,
        honorCipherOrder: true,
      },
    }),
  }) as unknown as FastifyInstance

  applyConnectionLimits(app.server, config.http, logger)

  // A callback hook, not an async one: fastify makes no promise for it on every response.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched'
    metrics.requests.inc({ route, code: String(reply.statusCode) })
    if (logger.isLevelEnabled('debug')) req.log.debug({ req, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed')
    done()
  })

  registerBootRoutes(app, engine, config.http.bootPath, metrics, runtime.timeline, runtime.eventStore)
  registerHealthRoutes(app, policies, metrics, runtime.problems)
  registerExplainRoute(app, engine, config.http.adminToken)
  const access = apiAccess(config, host)
  registerLoginRoutes(app, host, config.http.operators, access.sessions)
  registerIntentRoutes(app, runtime.lifecycle, access, host.kindValidators)
  await registerCallbackRoutes(app, runtime.lifecycle)
  registerMachineRoutes(app, runtime.timelineReader, access)
  if (config.files.dir || host.hasVirtualFiles) {
    registerStaticFiles(app, config.files, host.hasVirtualFiles ? (path, address) => host.virtualFile(path, { address, protocol: 'http' }) : undefined, (d) =>
      runtime.timeline.record({ ip: d.address }, 'files', 'download', { file: d.file, bytes: d.bytes, size: d.size, completed: d.completed }),
    )
  }
  if (config.http.adminToken && config.http.adminToken.length < 16) {
    logger.warn({ code: 'BPSEC001' }, 'BPSEC001 admin token is shorter than 16 characters')
  }

  await app.ready()
  return app
}

/** The admin token, and operator sessions when an auth plugin can check passwords and someone is listed. */
function apiAccess(config: Config, host: PluginHost): ApiAccess {
  const { operators, adminToken } = config.http
  const listed = operators.users.length > 0 || operators.groups.length > 0
  const sessions =
    listed && host.canAuthenticate ? new OperatorSessions({ idleMs: operators.sessionIdleS * 1000, maxAgeMs: operators.sessionMaxS * 1000, maxSessions: operators.maxSessions }) : undefined
  return { ...(adminToken && { adminToken }), ...(sessions && { sessions }) }
}

/**
 * Node's own header timeout, and how often it looks for expired connections (its default, 30 s,
 * would let half-sent requests live that long whatever the timeout says).
 */
function serverTimeouts(config: Config): { headersTimeout: number; connectionsCheckingInterval: number } {
  return { headersTimeout: config.http.headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs) }
}

// Request ids: 10 hex digits, a random per-process prefix and a counter. Unique and cheap
// (randomBytes per request cost ~10% of the /boot hot path); they need not be unpredictable.
const idPrefix = randomBytes(2).toString('hex')
let idCounter = 0
function nextRequestId(): string {
  idCounter = (idCounter + 1) % 0x1000000
  return idPrefix + idCounter.toString(16).padStart(6, '0')
}
