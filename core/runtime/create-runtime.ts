/**
 * createRuntime(config) → the one composition root every front door shares: plugins, the policy
 * worker pool and policy set, templates and the engine, with their watchers and one close().
 * It knows no transport: HTTP (core/http/build-app.ts), DHCP and TFTP (core/server.ts) and the
 * CLI (explain; check and test use its plugin stage) are adapters over it. It never imports fastify.
 */
import { StateOutageReport } from '../engine/state-failsafe.js'
import { EventEmitter } from 'node:events'
import { DEFAULT_LOGIN_LIMITS } from '../auth/login-limiter.js'
import { SharedLoginLimiter } from '../auth/shared-login-limiter.js'
import { openStateBackend } from '../state/open-state-backend.js'
import { PostgresStateBackend } from '../state/postgres-backend.js'
import type { StateBackend } from '../state/state-backend.js'
import type { FSWatcher } from 'node:fs'
import type { Logger } from 'pino'
import type { Config } from '../config/config-types.js'
import { validateDecision } from '../decision/validate-decision.js'
import { Engine } from '../engine/engine.js'
import type { RequestHooks } from '../engine/request-hooks.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { createLogger, flushLogger } from '../log/logger.js'
import { RecentProblems } from '../health/recent-problems.js'
import { Metrics } from '../metrics/metrics.js'
import { FileIntentStore } from '../lifecycle/file-intent-store.js'
import type { IntentStore } from '../lifecycle/intent-store.js'
import { Lifecycle } from '../lifecycle/lifecycle.js'
import { JsonFileStateStore } from '../state/state-store.js'
import { machinesGauge } from '../timeline/machines-gauge.js'
import { recordLifecycle } from '../timeline/record-lifecycle.js'
import { PgEventStore } from '../timeline/pg-event-store.js'
import { PgTimelineReader } from '../timeline/pg-timeline-reader.js'
import { localTimelineReader, type TimelineReader } from '../timeline/timeline-reader.js'
import { Timeline } from '../timeline/timeline.js'
import { bootTree, type LoadedPlugin } from '../plugins/load-plugins.js'
import { PluginHost } from '../plugins/plugin-host.js'
import { defaultImportables } from '../policy/compile-policy.js'
import type { PolicySet } from '../policy/policy-set.js'
import { serverPolicySet } from '../policy/server-policy-set.js'
import { WorkerPool } from '../policy/worker-pool.js'
import { TemplateStore } from '../templates/template-store.js'
import { loadRuntimePlugins, type PluginMode } from './runtime-plugins.js'
import { watchDir } from './watch-dir.js'

export interface RuntimeOptions {
  readonly logger?: Logger
  /** Replaces the plugin host built from config.plugins (tests of the engine alone). */
  readonly hooks?: RequestHooks
  /** Extra modules policies may import (plugin helpers), by specifier. */
  readonly importables?: Iterable<[string, string]>
  /** Problems other parts report to /healthz (plugins, services). */
  readonly problems?: () => object[]
  /** How plugins are loaded (runtime-plugins.ts); default `online`. */
  readonly plugins?: PluginMode
  /** Watch the policy and template directories; default `config.policies.watch`. */
  readonly watch?: boolean
  /** Where intents live; default the files store under `stateDir` (core/lifecycle). */
  readonly intentStore?: IntentStore
  /** Write nothing to stateDir (explain): the last-good store is read, not written. */
  readonly readOnly?: boolean
  /** An open state backend to use (kept open at close); default: the one `config.state` names. */
  readonly state?: StateBackend
}

export interface Runtime {
  readonly config: Config
  readonly logger: Logger
  readonly metrics: Metrics
  readonly engine: Engine
  readonly policies: PolicySet
  /** The worker threads that run the policies. */
  readonly policyWorkers: WorkerPool
  readonly templates: TemplateStore
  /** The plugin host (no plugins: an empty host). */
  readonly plugins: PluginHost
  readonly loadedPlugins: readonly LoadedPlugin[]
  /** Machine intents and installer callbacks (core/lifecycle). */
  readonly lifecycle: Lifecycle
  /** Shared state (files under stateDir, or PostgreSQL for replicas). */
  readonly state: StateBackend
  /** Every service's events per machine (core/timeline). */
  readonly timeline: Timeline
  /** What /api/machines reads: this timeline, or with postgres every replica's (pg-timeline-reader.ts). */
  readonly timelineReader: TimelineReader
  /** With postgres and a serving runtime: where events and decision records are stored for every replica. */
  readonly eventStore?: PgEventStore
  /** What is wrong but not fatal: templates that failed to compile, quarantined policies, recent runtime failures, `options.problems`. */
  problems(): object[]
  /** Stops the watchers, the policy workers and the plugins (reverse order); idempotent. */
  close(): Promise<void>
}

export async function createRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config.log.level)
  const watching = options.watch ?? config.policies.watch
  // Runtime failures /healthz shows for a while after they happen (health/recent-problems.ts).
  const recent = new RecentProblems()
  const onHookFailure = (f: { plugin: string; hook: string; code: string }): void =>
    recent.record(`plugin:${f.plugin}:${f.hook}`, { kind: 'plugin', ...f, message: `plugin ${f.plugin} hook ${f.hook} failed (see the log)` })
  const state = options.state ?? (await openStateBackend(config.state, config.stateDir, { log: logger.child({ component: 'state' }) }))
  const closeState = async (): Promise<void> => {
    if (!options.state) await state.close().catch(() => undefined)
  }
  const metrics = new Metrics()
  const onSharedLimitFailure = (): void => metrics.stateUnavailable.inc({ what: 'login' })
  // PostgresStateBackend emits 'down' once per outage (it logs it at error level itself).
  const stateOutage = new StateOutageReport(logger, () => metrics.stateUnavailable.inc({ what: 'boot' }))
  if (state instanceof EventEmitter) {
    state.on('down', () => metrics.stateUnavailable.inc({ what: 'outage' }))
    state.on('up', () => stateOutage.recovered())
  }
  // With one server the local limiter is exact; replicas share their counters through the database.
  const sharedLimiter = state.kind === 'postgres' ? new SharedLoginLimiter(state, { ...DEFAULT_LOGIN_LIMITS, ...config.auth.limits }, logger) : undefined
  let loaded: Awaited<ReturnType<typeof loadRuntimePlugins>> | undefined
  try {
    loaded = options.hooks
      ? undefined
      : await loadRuntimePlugins(config, {
          mode: options.plugins ?? 'online',
          logger,
          onHookFailure,
          ...(options.importables && { importables: options.importables }),
          ...(sharedLimiter && { sharedLimiter, onSharedLimitFailure }),
          state,
        })
  } catch (err) {
    await closeState()
    throw err
  }
  const host =
    loaded?.host ?? new PluginHost([], { hookTimeoutMs: config.pluginTimeouts.hookMs, logger, loginLimits: config.auth.limits, ...(sharedLimiter && { sharedLimiter, onSharedLimitFailure }) })
  const hooks = options.hooks ?? loaded!.hooks
  const loadedPlugins = loaded?.loaded ?? []
  logger.info({ plugins: loadedPlugins.map((l) => ({ name: l.plugin.name, version: l.plugin.version, setupMs: l.setupMs })), tree: bootTree(loadedPlugins) }, 'plugins loaded')

  // Refuse an invalid `default` before policies and templates start watching: a failed start must
  // leave nothing running that keeps the process alive (the engine checks it again).
  const defaultCheck = validateDecision(config.default, hooks.kindValidators)
  if (!defaultCheck.ok) {
    await host.close().catch(() => undefined)
    await closeState()
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
  const importables = loaded?.importables ?? defaultImportables(options.importables)
  // Type-checked off the main thread, last good versions kept in stateDir (server-policy-set.ts).
  const policies = serverPolicySet(config, importables, policyWorkers, logger, { readOnly: options.readOnly === true, state })
  let templateWatcher: FSWatcher | undefined
  const templates = new TemplateStore(config.templates.dir)
  templates.onRenderFailure = (template, code) => recent.record(`template:${template}`, { kind: 'template', template, code, message: `template ${template} failed to render (see the log)` })
  let templateProblems: { file: string; error: string }[] = []
  const loadTemplates = async (): Promise<void> => {
    templateProblems = await templates.load()
    for (const p of templateProblems) logger.warn({ file: p.file, err: { message: p.error } }, 'template failed to compile')
  }
  // Only a serving runtime ends expired intents: explain, check and test must not write state.
  const lifecycle = new Lifecycle({
    // One server keeps `stateDir/intents.json`; replicas share the document in PostgreSQL.
    store: options.intentStore ?? (state.kind === 'postgres' ? new FileIntentStore(state, state) : new FileIntentStore(new JsonFileStateStore(config.stateDir))),
    logger,
    metrics,
    sweepMs: (options.plugins ?? 'online') === 'online' ? 1000 : 0,
  })
  // Only a serving runtime writes the timeline (explain, check and test keep it in memory).
  const online = (options.plugins ?? 'online') === 'online'
  let eventStore: PgEventStore | undefined
  if (online && state instanceof PostgresStateBackend) {
    try {
      eventStore = await PgEventStore.open(state, config.timeline.postgres, { log: logger.child({ component: 'timeline-store' }) })
    } catch (err) {
      lifecycle.close()
      policies.close()
      await policyWorkers.close()
      await host.close().catch(() => undefined)
      await closeState()
      throw err
    }
    const store = eventStore
    metrics.sources.push(() => store.metricsText())
  }
  const timeline = new Timeline({
    ...(eventStore && { sink: eventStore }),
    ...config.timeline,
    flushMs: online ? config.timeline.flushMs : 0,
    store: new JsonFileStateStore(config.stateDir),
    logger,
    onStuck: () => metrics.machinesStuck.inc(),
  })
  const timelineReader: TimelineReader =
    eventStore && state instanceof PostgresStateBackend
      ? new PgTimelineReader(state, { stuckAfterMs: config.timeline.stuckAfterMs, pollMs: config.timeline.postgres.pollMs })
      : localTimelineReader(timeline)
  lifecycle.subscribe((e) => recordLifecycle(timeline, e))
  metrics.sources.push(() => machinesGauge(timeline))
  let engine: Engine
  try {
    await timeline.load()
    await policies.load()
    if (watching) policies.watch()
    await loadTemplates()
    if (watching) {
      templateWatcher = watchDir(config.templates.dir, async () => {
        await loadTemplates()
        logger.info({ templates: templates.list().length }, 'templates reloaded')
      })
    }
    engine = new Engine({
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
      intents: lifecycle,
      stateOutage,
    })
  } catch (err) {
    lifecycle.close()
    await timeline.close()
    timelineReader.close()
    await eventStore?.close()
    templateWatcher?.close()
    policies.close()
    await policyWorkers.close()
    await host.close().catch(() => undefined)
    await closeState()
    throw err
  }

  let closing: Promise<void> | undefined
  return {
    config,
    logger,
    metrics,
    engine,
    policies,
    policyWorkers,
    templates,
    plugins: host,
    loadedPlugins,
    lifecycle,
    state,
    timeline,
    timelineReader,
    ...(eventStore && { eventStore }),
    problems: () => [...templateProblems.map((p) => ({ template: p.file, message: p.error })), ...(options.problems?.() ?? []), ...policyWorkers.quarantined, ...recent.list()],
    close() {
      closing ??= (async () => {
        lifecycle.close()
        await timeline.close()
        timelineReader.close()
        await eventStore?.close()
        templateWatcher?.close()
        policies.close()
        await policyWorkers.close()
        await host.close()
        await closeState()
        await flushLogger(logger) // the decision log is written in the background (logger.ts)
      })()
      return closing
    },
  }
}
