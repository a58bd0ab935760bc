/**
 * build(config) → a ready bootpolicy instance that does not listen yet. Tests call this and use
 * `app.inject()`; core/server.ts binds ports and handles signals.
 */
import { randomBytes } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/config-types.js'
import { validateDecision } from '../decision/validate-decision.js'
import { Engine } from '../engine/engine.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { noHooks, type RequestHooks } from '../engine/request-hooks.js'
import { createLogger, flushLogger } from '../log/logger.js'
import { Metrics } from '../metrics/metrics.js'
import { defaultImportables, type ImportableModules } from '../policy/compile-policy.js'
import type { PolicySet } from '../policy/policy-set.js'
import { serverPolicySet } from '../policy/server-policy-set.js'
import { RecentProblems } from '../health/recent-problems.js'
import { WorkerPool } from '../policy/worker-pool.js'
import { TemplateStore } from '../templates/template-store.js'
import { registerBootRoutes } from './routes/boot.js'
import { registerExplainRoute } from './routes/explain.js'
import { healthReport, registerHealthRoutes, type HealthReport } from './routes/health.js'
import { registerStaticFiles } from './routes/static-files.js'
import { applyConnectionLimits } from './connection-limits.js'
import { PluginHost } from '../plugins/plugin-host.js'
import { bootTree, loadPlugins, type LoadedPlugin } from '../plugins/load-plugins.js'

export interface BuildOptions {
  readonly logger?: Logger
  /** Replaces the plugin host built from config.plugins (tests of the engine alone). */
  readonly hooks?: RequestHooks
  /** Extra modules policies may import (plugin helpers), by specifier. */
  readonly importables?: Iterable<[string, string]>
  /** Problems other parts report to /healthz (plugins, services). */
  readonly problems?: () => object[]
}

export interface Bootpolicy {
  readonly app: FastifyInstance
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
  close(): Promise<void>
}

export async function build(config: Config, options: BuildOptions = {}): Promise<Bootpolicy> {
  const logger = options.logger ?? createLogger(config.log.level)
  const metrics = new Metrics()
  const loadedPlugins = options.hooks
    ? []
    : await loadPlugins(config.plugins, {
        baseDir: config.baseDir,
        stateDir: config.stateDir,
        bootPath: config.http.bootPath,
        setupTimeoutMs: config.pluginTimeouts.setupMs,
        logger,
      })
  // Runtime failures /healthz shows for a while after they happen (health/recent-problems.ts).
  const recent = new RecentProblems()
  const host = new PluginHost(loadedPlugins.map((l) => l.plugin), {
    hookTimeoutMs: config.pluginTimeouts.hookMs,
    logger,
    loginLimits: config.auth.limits,
    onHookFailure: (f) => recent.record(`plugin:${f.plugin}:${f.hook}`, { kind: 'plugin', ...f, message: `plugin ${f.plugin} hook ${f.hook} failed (see the log)` }),
  })
  const hooks = options.hooks ?? (loadedPlugins.length ? host : noHooks)
  logger.info({ plugins: loadedPlugins.map((l) => ({ name: l.plugin.name, version: l.plugin.version, setupMs: l.setupMs })), tree: bootTree(loadedPlugins) }, 'plugins loaded')
  const helpers: [string, string][] = loadedPlugins
    .filter((l) => l.plugin.policyHelpers)
    .map((l) => [`bootpolicy/plugins/${l.plugin.name}`, l.plugin.policyHelpers!])
  const importables: ImportableModules = defaultImportables([...helpers, ...(options.importables ?? [])])

  // Refuse an invalid `default` before policies and templates start watching: a failed start must
  // leave nothing running that keeps the process alive (the engine checks it again).
  const defaultCheck = validateDecision(config.default, hooks.kindValidators)
  if (!defaultCheck.ok) {
    await host.close().catch(() => undefined)
    throw new BootpolicyError('BP_ERR_CONFIG_INVALID', { details: `default: ${defaultCheck.problems.join('; ')}` })
  }

  const policyWorkers = new WorkerPool({
    size: config.policies.workers,
    limits: config.policies,
    onError: config.policies.onError,
    onReplace: (info) => {
      logger.warn({ code: 'BPWRN004', ...info }, 'BPWRN004 policy worker replaced')
      recent.record(`worker:${info.policy ?? ''}`, { kind: 'policy-worker', code: 'BPWRN004', message: 'a policy worker was replaced', ...info })
    },
    onQuarantine: (info) => logger.error({ code: 'BPWRN008', ...info }, 'BPWRN008 policy quarantined: it hung its worker twice; it fails every request until it is edited'),
  })
  const policies = serverPolicySet(config, importables, policyWorkers, logger)
  await policies.load()
  if (config.policies.watch) policies.watch()

  const templates = new TemplateStore(config.templates.dir)
  templates.onRenderFailure = (template, code) => recent.record(`template:${template}`, { kind: 'template', template, code, message: `template ${template} failed to render (see the log)` })
  let templateProblems = await templates.load()
  for (const p of templateProblems) logger.warn({ file: p.file, err: { message: p.error } }, 'template failed to compile')
  const templateWatcher = config.policies.watch ? watchDir(config.templates.dir, async () => {
    templateProblems = await templates.load()
    for (const p of templateProblems) logger.warn({ file: p.file, err: { message: p.error } }, 'template failed to compile')
    logger.info({ templates: templates.list().length }, 'templates reloaded')
  }) : undefined

  const engine = new Engine({
    policies,
    executor: policyWorkers,
    templates,
    hooks,
    defaultDecision: config.default,
    bootPath: config.http.bootPath,
    logger,
    onError: config.policies.onError,
    cacheSize: config.policies.cacheSize,
    cacheTtlMs: config.policies.cacheTtlMs,
  })

  const app = Fastify({
    loggerInstance: logger,
    // Our own access line (with the query's secrets redacted) replaces fastify's.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: nextRequestId,
    // iPXE sends short queries; anything near this is hostile.
    // /boot decodes its raw query itself (parse-ipxe-query.ts) and no route reads `req.query`:
    // fastify's own parse of every hostile query would be work and garbage for nothing.
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

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    metrics.requests.inc({ route, code: String(reply.statusCode) })
    if (logger.isLevelEnabled('debug')) req.log.debug({ req, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed')
  })

  registerBootRoutes(app, engine, config.http.bootPath, metrics)
  const extraProblems = (): object[] => [
    ...templateProblems.map((p) => ({ template: p.file, message: p.error })),
    ...(options.problems?.() ?? []),
    ...policyWorkers.quarantined,
    ...recent.list(),
  ]
  registerHealthRoutes(app, policies, metrics, extraProblems)
  registerExplainRoute(app, engine, config.http.adminToken)
  if (config.files.dir || host.hasVirtualFiles) {
    registerStaticFiles(app, config.files.dir, host.hasVirtualFiles ? (path, address) => host.virtualFile(path, { address, protocol: 'http' }) : undefined)
  }
  if (config.http.adminToken && config.http.adminToken.length < 16) {
    logger.warn({ code: 'BPSEC001' }, 'BPSEC001 admin token is shorter than 16 characters')
  }

  await app.ready()
  return {
    app,
    engine,
    policies,
    policyWorkers,
    templates,
    metrics,
    logger,
    config,
    plugins: host,
    loadedPlugins,
    health: () => healthReport(policies, extraProblems),
    async close() {
      templateWatcher?.close()
      await app.close()
      policies.close()
      await policyWorkers.close()
      await host.close()
      await flushLogger(logger) // the decision log is written in the background (logger.ts)
    },
  }
}

/**
 * Node's own header timeout, and how often it looks for expired connections (its default, 30 s,
 * would let half-sent requests live that long whatever the timeout says).
 */
function serverTimeouts(config: Config): { headersTimeout: number; connectionsCheckingInterval: number } {
  return { headersTimeout: config.http.headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs) }
}

/** Debounced directory watch (100 ms); a missing directory is simply not watched. */
function watchDir(dir: string, onChange: () => Promise<void>): FSWatcher | undefined {
  let timer: NodeJS.Timeout | undefined
  try {
    const watcher = watch(dir, { recursive: true }, () => {
      clearTimeout(timer)
      timer = setTimeout(() => void onChange().catch(() => undefined), 100)
    })
    watcher.on('error', () => undefined)
    watcher.on('close', () => clearTimeout(timer))
    return watcher
  } catch {
    return undefined
  }
}

// Request ids: 10 hex digits, a random per-process prefix and a counter. Unique and cheap
// (randomBytes per request cost ~10% of the /boot hot path); they need not be unpredictable.
const idPrefix = randomBytes(2).toString('hex')
let idCounter = 0
function nextRequestId(): string {
  idCounter = (idCounter + 1) % 0x1000000
  return idPrefix + idCounter.toString(16).padStart(6, '0')
}
