/**
 * The ordered set of policies from one directory, with hot reload.
 * Order: file names sorted (use `10-…`, `20-…` prefixes). Files named `*.test.ts` or starting
 * with `_` are not policies (tests and shared helpers). A changed file is compiled first and
 * swapped in only if it compiles and loads (its top-level code runs and it default-exports a
 * function) and, when a type checker is given (the server), has no type error in any file it
 * bundles: a broken edit keeps the last good version and is reported. With a LastGoodStore the
 * last good versions also survive a restart: a policy that is broken at start-up serves its
 * stored version (reported as stale). Loading runs in the `PolicyHost`: the server's worker pool,
 * or in-process sandboxes for one-shot CLI commands.
 */
import { watch, type FSWatcher } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { compilePolicy, defaultImportables, type CompiledPolicy, type ImportableModules } from './compile-policy.js'
import type { LastGoodStore } from './last-good-store.js'
import { PolicySandbox, type SandboxLimits } from './sandbox.js'
import type { TypeDiagnostic } from './type-check.js'

export interface PolicyProblem {
  readonly policy: string
  readonly code: string
  readonly message: string
}

/** A policy whose current file is broken and that serves an older revision meanwhile. */
export interface StalePolicy {
  readonly policy: string
  /** The first 12 hex digits of the revision serving. */
  readonly revision: string
  /** ISO time that revision went live. */
  readonly since: string
  /** `memory`: kept since the last reload; `stateDir`: restored from the last-good store at start. */
  readonly from: 'memory' | 'stateDir'
}

export interface PolicySetEvents {
  /** `stale`: policies serving an older revision; `missing`: broken policies with none to serve. */
  onReload?(revision: string, problems: readonly PolicyProblem[], stale: readonly StalePolicy[], missing: readonly string[]): void
}

export interface PolicySetOptions {
  /**
   * Type-check the directory (the server passes typeCheckOffThread). A new version with a type
   * error in any file it bundles does not go live.
   */
  readonly typeCheck?: (dir: string, importables: ImportableModules) => Promise<TypeDiagnostic[]>
  /** Persist the last good versions; restore them for policies broken at start-up. */
  readonly lastGood?: LastGoodStore
  /**
   * Write nothing to the store until releaseLastGood(): a server started as root that drops
   * privileges must not leave root-owned files in stateDir that its user cannot replace.
   */
  readonly holdLastGoodWrites?: boolean
}

/** Where policies are loaded and run: the server's WorkerPool, or `inProcessHost`. */
export interface PolicyHost {
  /** Load each policy once; the ones that fail (top-level throw, time limit, no default function). */
  verify(policies: readonly CompiledPolicy[]): Promise<PolicyProblem[]>
  /** Make `policies` the current chain. */
  install(policies: readonly CompiledPolicy[]): void
}

/** Loads each policy in a throwaway sandbox on this thread: for one-shot commands (`bootpolicy check`). */
export function inProcessHost(limits: SandboxLimits): PolicyHost {
  return {
    async verify(policies) {
      const problems: PolicyProblem[] = []
      for (const p of policies) {
        const sandbox = new PolicySandbox(p, limits)
        try {
          sandbox.warm()
        } catch (err) {
          problems.push({ policy: p.name, code: err instanceof BootpolicyError ? err.code : 'BP_ERR_POLICY_COMPILE', message: messageOf(err) })
        } finally {
          sandbox.dispose()
        }
      }
      return problems
    },
    install() {},
  }
}

export function isPolicyFile(name: string): boolean {
  return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') && !name.startsWith('_')
}

export class PolicySet {
  private compiled: readonly CompiledPolicy[] = []
  private problemList: readonly PolicyProblem[] = []
  private staleList: readonly StalePolicy[] = []
  private rev = 'empty'
  private watcher: FSWatcher | undefined
  private reloadTimer: NodeJS.Timeout | undefined
  private loading: Promise<void> = Promise.resolve()
  private queued: Promise<void> | undefined
  private closed = false
  /** When each live revision (by hash) went live. */
  private since = new Map<string, string>()
  private holdWrites: boolean
  /** What the store should hold: the current chain's good policies and the names kept stale. */
  private toSave: { good: CompiledPolicy[]; kept: string[] } | undefined

  constructor(
    readonly dir: string,
    limits: SandboxLimits,
    private readonly importables: ImportableModules = defaultImportables(),
    private readonly events: PolicySetEvents = {},
    private readonly host: PolicyHost = inProcessHost(limits),
    private readonly options: PolicySetOptions = {},
  ) {
    this.holdWrites = options.holdLastGoodWrites ?? false
  }

  /** Start writing the last-good store (after a privilege drop), beginning with the current chain. */
  async releaseLastGood(): Promise<void> {
    this.holdWrites = false
    const run = (): Promise<void> =>
      this.saveLastGood().then((p) => {
        if (p) this.problemList = [...this.problemList, p]
      })
    this.loading = this.loading.then(run, run)
    return this.loading
  }

  /** The policies in evaluation order. The array is replaced, never mutated: safe to iterate. */
  get policies(): readonly CompiledPolicy[] {
    return this.compiled
  }

  /** Changes whenever any policy's content changes; part of the decision cache key. */
  get revision(): string {
    return this.rev
  }

  /** Errors of the current directory contents (the last good versions keep serving). */
  get problems(): readonly PolicyProblem[] {
    return this.problemList
  }

  /** Policies serving an older revision than their file (it is broken). */
  get stale(): readonly StalePolicy[] {
    return this.staleList
  }

  /**
   * Reload the directory. Calls made while a reload waits to start share it (a burst of edits
   * during a seconds-long type check costs one more check, not one per edit).
   */
  async load(): Promise<void> {
    if (this.queued) return this.queued
    const run = (): Promise<void> => {
      this.queued = undefined
      return this.reload()
    }
    const next = this.loading.then(run, run)
    this.queued = next
    this.loading = next
    return next
  }

  /** Watch the directory; changes are debounced by 100 ms and reloaded in order. */
  watch(): void {
    if (this.watcher) return
    this.watcher = watch(this.dir, () => {
      clearTimeout(this.reloadTimer)
      this.reloadTimer = setTimeout(() => void this.load().catch(() => undefined), 100)
    })
    this.watcher.on('error', () => undefined)
  }

  close(): void {
    this.closed = true
    this.watcher?.close()
    this.watcher = undefined
    clearTimeout(this.reloadTimer)
    this.compiled = []
  }

  private async reload(): Promise<void> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter(isPolicyFile).sort()
    } catch (err) {
      throw new BootpolicyError('BP_ERR_POLICY_LOAD', { dir: this.dir }, { cause: err })
    }
    // The type check (seconds, on its own thread) runs while the files compile and load.
    const typeCheck = this.options.typeCheck
    const checked: Promise<{ diagnostics: TypeDiagnostic[] } | { error: unknown }> | undefined = typeCheck
      ? typeCheck(this.dir, this.importables).then(
          (diagnostics) => ({ diagnostics }),
          (error: unknown) => ({ error }),
        )
      : undefined
    const previous = new Map(this.compiled.map((p) => [p.name, p]))
    const current = new Map<string, CompiledPolicy>()
    const fresh = new Set<CompiledPolicy>()
    const problems: PolicyProblem[] = []
    for (const name of names) {
      const old = previous.get(name)
      try {
        const compiled = await compilePolicy(join(this.dir, name), this.dir, this.importables)
        const live = old && old.hash === compiled.hash && !this.isStale(name) ? old : compiled
        current.set(name, live)
        if (live !== old) fresh.add(live)
      } catch (err) {
        const code = err instanceof BootpolicyError ? err.code : 'BP_ERR_POLICY_COMPILE'
        problems.push({ policy: name, code, message: messageOf(err) })
      }
    }
    // New versions run their top-level code once in the host before they serve.
    const unloadable = fresh.size ? await this.host.verify([...fresh]) : []
    // A new version with a type error does not go live, whether or not it loaded.
    for (const problem of this.typeProblems(checked ? await checked : undefined, [...current.values()], fresh)) {
      problems.push(problem)
      const p = current.get(problem.policy)
      if (p && fresh.has(p)) current.delete(problem.policy)
    }
    for (const problem of unloadable) {
      if (!current.has(problem.policy)) continue // already out for its types
      problems.push(problem)
      current.delete(problem.policy)
    }
    // A broken policy serves its last good version: the one in memory, else the stored one.
    const stale: StalePolicy[] = []
    const fallback = new Map<string, CompiledPolicy>()
    const restored: CompiledPolicy[] = []
    for (const name of names) {
      if (current.has(name)) continue
      const old = previous.get(name)
      if (old) {
        fallback.set(name, old)
        const was = this.staleList.find((x) => x.policy === name && old.hash.startsWith(x.revision))
        stale.push({ policy: name, revision: old.hash.slice(0, 12), since: this.since.get(old.hash) ?? new Date().toISOString(), from: was?.from ?? 'memory' })
        continue
      }
      const stored = await this.options.lastGood?.load(name, join(this.dir, name)).catch(() => undefined)
      if (!stored) continue
      const { since, ...policy } = stored
      this.since.set(policy.hash, since)
      fallback.set(name, policy)
      restored.push(policy)
    }
    // A stored version runs through the same load check: a store from another version must not break the chain.
    const restoredFailed = new Set(restored.length ? (await this.host.verify(restored)).map((p) => p.policy) : [])
    for (const p of restored) {
      if (restoredFailed.has(p.name)) fallback.delete(p.name)
      else stale.push({ policy: p.name, revision: p.hash.slice(0, 12), since: this.since.get(p.hash)!, from: 'stateDir' })
    }
    if (this.closed) return
    const chain: CompiledPolicy[] = []
    const missing: string[] = []
    for (const name of names) {
      const p = current.get(name) ?? fallback.get(name)
      if (p) chain.push(p)
      else if (problems.some((x) => x.policy === name)) missing.push(name)
    }
    const now = new Date().toISOString()
    for (const p of current.values()) if (!this.since.has(p.hash)) this.since.set(p.hash, now)
    const liveHashes = new Set(chain.map((p) => p.hash))
    for (const h of [...this.since.keys()]) if (!liveHashes.has(h)) this.since.delete(h)
    this.toSave = { good: [...current.values()], kept: [...fallback.keys()] }
    const storeProblem = await this.saveLastGood()
    if (storeProblem) problems.push(storeProblem)
    if (this.closed) return
    this.compiled = chain
    this.problemList = problems
    this.staleList = stale
    this.rev = chain.map((p) => `${p.name}@${p.hash.slice(0, 12)}`).join(',') || 'empty'
    this.host.install(chain)
    this.events.onReload?.(this.rev, problems, stale, missing)
  }

  private async saveLastGood(): Promise<PolicyProblem | undefined> {
    const store = this.options.lastGood
    if (!store || this.holdWrites || !this.toSave) return undefined
    try {
      await store.save(this.toSave.good, this.toSave.kept)
      return undefined
    } catch (err) {
      return { policy: '(last-good store)', code: 'BP_ERR_POLICY_LAST_GOOD', message: new BootpolicyError('BP_ERR_POLICY_LAST_GOOD', { dir: store.dir, details: messageOf(err) }).message }
    }
  }

  private isStale(name: string): boolean {
    return this.staleList.some((s) => s.policy === name)
  }

  /** Type errors, one problem per policy: in a file it bundles, or not tied to a file at all. */
  private typeProblems(result: { diagnostics: TypeDiagnostic[] } | { error: unknown } | undefined, policies: readonly CompiledPolicy[], fresh: ReadonlySet<CompiledPolicy>): PolicyProblem[] {
    if (!result) return []
    if ('error' in result) {
      // A checker that cannot run proves nothing: the new versions wait for the next edit.
      return [...fresh].map((p) => ({ policy: p.name, code: 'BP_ERR_POLICY_TYPE', message: new BootpolicyError('BP_ERR_POLICY_TYPE', { policy: p.name, details: messageOf(result.error) }).message }))
    }
    const problems: PolicyProblem[] = []
    for (const p of policies) {
      const own = result.diagnostics.filter((d) => d.file.startsWith('/') || (p.inputs ?? [p.name]).includes(d.file))
      if (own.length === 0) continue
      const details = own.map((d) => `${d.file}:${d.line}:${d.col}: ${d.code}: ${d.message}`).join('; ')
      problems.push({ policy: p.name, code: 'BP_ERR_POLICY_TYPE', message: new BootpolicyError('BP_ERR_POLICY_TYPE', { policy: p.name, details }).message })
    }
    return problems
  }
}
