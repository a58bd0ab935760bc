/**
 * The ordered set of policies from one directory, with hot reload.
 * Order: file names sorted (use `10-…`, `20-…` prefixes). Files named `*.test.ts` or starting
 * with `_` are not policies (tests and shared helpers). A changed file is compiled first and
 * swapped in only if it compiles and loads (its top-level code runs and it default-exports a
 * function): a broken edit keeps the last good version and is reported. Loading runs in the
 * `PolicyHost`: the server's worker pool, or in-process sandboxes for one-shot CLI commands.
 */
import { watch, type FSWatcher } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { compilePolicy, defaultImportables, type CompiledPolicy, type ImportableModules } from './compile-policy.js'
import { PolicySandbox, type SandboxLimits } from './sandbox.js'

export interface PolicyProblem {
  readonly policy: string
  readonly code: string
  readonly message: string
}

export interface PolicySetEvents {
  onReload?(revision: string, problems: readonly PolicyProblem[]): void
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
  private rev = 'empty'
  private watcher: FSWatcher | undefined
  private reloadTimer: NodeJS.Timeout | undefined
  private loading: Promise<void> = Promise.resolve()

  constructor(
    readonly dir: string,
    limits: SandboxLimits,
    private readonly importables: ImportableModules = defaultImportables(),
    private readonly events: PolicySetEvents = {},
    private readonly host: PolicyHost = inProcessHost(limits),
  ) {}

  /** The policies in evaluation order. The array is replaced, never mutated: safe to iterate. */
  get policies(): readonly CompiledPolicy[] {
    return this.compiled
  }

  /** Changes whenever any policy's content changes; part of the decision cache key. */
  get revision(): string {
    return this.rev
  }

  /** Compile errors of the current directory contents (the last good versions keep serving). */
  get problems(): readonly PolicyProblem[] {
    return this.problemList
  }

  async load(): Promise<void> {
    this.loading = this.loading.then(() => this.reload(), () => this.reload())
    return this.loading
  }

  /** Watch the directory; changes are debounced by 100 ms and reloaded in order. */
  watch(): void {
    if (this.watcher) return
    this.watcher = watch(this.dir, () => {
      clearTimeout(this.reloadTimer)
      this.reloadTimer = setTimeout(() => void this.load(), 100)
    })
    this.watcher.on('error', () => undefined)
  }

  close(): void {
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
    const previous = new Map(this.compiled.map((p) => [p.name, p]))
    const next: CompiledPolicy[] = []
    const fresh: CompiledPolicy[] = []
    const problems: PolicyProblem[] = []
    for (const name of names) {
      const old = previous.get(name)
      try {
        const compiled = await compilePolicy(join(this.dir, name), this.dir, this.importables)
        if (old && old.hash === compiled.hash) next.push(old)
        else {
          next.push(compiled)
          fresh.push(compiled)
        }
      } catch (err) {
        const code = err instanceof BootpolicyError ? err.code : 'BP_ERR_POLICY_COMPILE'
        problems.push({ policy: name, code, message: messageOf(err) })
        if (old) next.push(old) // keep serving the last good version
      }
    }
    // New versions run their top-level code once in the host before they serve.
    const failed = new Map((await this.host.verify(fresh)).map((p) => [p.policy, p]))
    const chain: CompiledPolicy[] = []
    for (const p of next) {
      const problem = failed.get(p.name)
      if (!problem || !fresh.includes(p)) {
        chain.push(p)
        continue
      }
      problems.push(problem)
      const old = previous.get(p.name)
      if (old) chain.push(old)
    }
    this.compiled = chain
    this.problemList = problems
    this.rev = chain.map((p) => `${p.name}@${p.hash.slice(0, 12)}`).join(',') || 'empty'
    this.host.install(chain)
    this.events.onReload?.(this.rev, problems)
  }
}
