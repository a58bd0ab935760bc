/**
 * The ordered set of policies from one directory, with hot reload.
 * Order: file names sorted (use `10-…`, `20-…` prefixes). Files named `*.test.ts` or starting
 * with `_` are not policies (tests and shared helpers). A changed file is compiled first and
 * swapped in only if it compiles: a broken edit keeps the last good version and is reported.
 */
import { watch, type FSWatcher } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { compilePolicy, defaultImportables, type ImportableModules } from './compile-policy.js'
import { PolicySandbox, type SandboxLimits } from './sandbox.js'

export interface PolicyProblem {
  readonly policy: string
  readonly code: string
  readonly message: string
}

export interface PolicySetEvents {
  onReload?(revision: string, problems: readonly PolicyProblem[]): void
}

export function isPolicyFile(name: string): boolean {
  return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') && !name.startsWith('_')
}

export class PolicySet {
  private sandboxes: readonly PolicySandbox[] = []
  private problemList: readonly PolicyProblem[] = []
  private rev = 'empty'
  private watcher: FSWatcher | undefined
  private reloadTimer: NodeJS.Timeout | undefined
  private loading: Promise<void> = Promise.resolve()

  constructor(
    readonly dir: string,
    private readonly limits: SandboxLimits,
    private readonly importables: ImportableModules = defaultImportables(),
    private readonly events: PolicySetEvents = {},
  ) {}

  /** The policies in evaluation order. The array is replaced, never mutated: safe to iterate. */
  get policies(): readonly PolicySandbox[] {
    return this.sandboxes
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
    for (const s of this.sandboxes) s.dispose()
    this.sandboxes = []
  }

  private async reload(): Promise<void> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter(isPolicyFile).sort()
    } catch (err) {
      throw new BootpolicyError('BP_ERR_POLICY_LOAD', { dir: this.dir }, { cause: err })
    }
    const previous = new Map(this.sandboxes.map((s) => [s.policy.name, s]))
    const next: PolicySandbox[] = []
    const problems: PolicyProblem[] = []
    for (const name of names) {
      const old = previous.get(name)
      try {
        const compiled = await compilePolicy(join(this.dir, name), this.dir, this.importables)
        if (old && old.policy.hash === compiled.hash) {
          next.push(old)
          continue
        }
        const sandbox = new PolicySandbox(compiled, this.limits)
        sandbox.warm()
        next.push(sandbox)
      } catch (err) {
        const code = err instanceof BootpolicyError ? err.code : 'BP_ERR_POLICY_COMPILE'
        problems.push({ policy: name, code, message: messageOf(err) })
        if (old) next.push(old) // keep serving the last good version
      }
    }
    const kept = new Set(next)
    for (const s of this.sandboxes) if (!kept.has(s)) s.dispose()
    this.sandboxes = next
    this.problemList = problems
    this.rev = next.map((s) => `${s.policy.name}@${s.policy.hash.slice(0, 12)}`).join(',') || 'empty'
    this.events.onReload?.(this.rev, problems)
  }
}
