/**
 * iPXE script templates (templates/<name>.ipxe) for `template` decisions, in the logic-less
 * language of parse-template.ts: a template cannot run code in the server, it only places values,
 * escaped by the same core as decisions (render-template.ts). Every template is parsed once per
 * load; `load()` runs at startup and again when the directory changes (with `policies.watch`),
 * swapping the whole set at once, so a request sees either the old or the new templates.
 * A template file whose real path leaves the directory (a symlink) is refused, like policy imports.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import type { BootContext } from '../context/types.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { ErrorCode } from '../errors/catalog.js'
import type { PluginErrorCode } from '../errors/bp-error.js'
import { MAX_TEMPLATE_BYTES, parseTemplate, TemplateSyntaxError, type TemplateNode } from './parse-template.js'
import { renderTemplate, TemplateRenderError, TrustedText } from './render-template.js'

export interface TemplateData {
  readonly ctx: BootContext
  readonly vars: Readonly<Record<string, unknown>>
  /** Written as it is (`${bp-req}`): bootpolicy's own text, never a client's. */
  readonly requestId: string
}

export interface TemplateProblem {
  readonly file: string
  readonly line: number
  readonly code: ErrorCode | PluginErrorCode
  readonly error: string
}

interface LoadedTemplate {
  readonly file: string
  readonly nodes: readonly TemplateNode[]
}

export class TemplateStore {
  private templates = new Map<string, LoadedTemplate>()

  constructor(readonly dir: string) {}

  /** (Re)load every *.ipxe file; returns the problems found, per file, with the line (1 when the whole file is at fault). */
  async load(): Promise<TemplateProblem[]> {
    const problems: TemplateProblem[] = []
    let files: string[] = []
    let root = resolve(this.dir)
    try {
      root = await realpath(root)
      files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ipxe'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const loaded = new Map<string, LoadedTemplate>()
    for (const rel of files.sort()) {
      const name = rel.slice(0, -'.ipxe'.length).split(sep).join('/')
      const file = join(this.dir, rel)
      try {
        loaded.set(name, { file, nodes: await this.parseFile(root, join(root, rel), file) })
      } catch (err) {
        const line = err instanceof BootpolicyError ? Number(/:(\d+)$/.exec(String(err.params.template ?? ''))?.[1] ?? 1) : 1
        problems.push({ file, line, code: err instanceof BootpolicyError ? err.code : 'BP_ERR_TEMPLATE_INVALID', error: messageOf(err) })
      }
    }
    this.templates = loaded
    return problems
  }

  has(name: string): boolean {
    return this.templates.has(name)
  }

  list(): string[] {
    return [...this.templates.keys()]
  }

  /**
   * Told when a template is missing or its logic fails (for /healthz). Not for a client value that
   * cannot be placed safely (BP_ERR_RENDER_UNSAFE_VALUE): any client could send one.
   */
  onRenderFailure?: (template: string, code: string) => void

  render(name: string, data: TemplateData): string {
    const t = this.templates.get(name)
    if (!t) this.onRenderFailure?.(name, 'BP_ERR_RENDER_TEMPLATE')
    if (!t) throw new BootpolicyError('BP_ERR_RENDER_TEMPLATE', { template: name, details: 'no such template (or it failed to load)' })
    try {
      return renderTemplate(t.nodes, { ctx: data.ctx, vars: data.vars, requestId: new TrustedText(data.requestId) })
    } catch (err) {
      if (err instanceof TemplateRenderError) {
        const where = `${t.file}:${err.line}`
        if (err.unsafe) throw new BootpolicyError('BP_ERR_RENDER_UNSAFE_VALUE', { field: `template ${where}`, reason: err.reason })
        this.onRenderFailure?.(where, 'BP_ERR_RENDER_TEMPLATE')
        throw new BootpolicyError('BP_ERR_RENDER_TEMPLATE', { template: where, details: err.reason })
      }
      throw err
    }
  }

  private async parseFile(root: string, path: string, file: string): Promise<readonly TemplateNode[]> {
    const real = await realpath(path)
    if (!real.startsWith(root + sep)) {
      throw new BootpolicyError('BP_ERR_TEMPLATE_INVALID', { template: file, details: 'resolves outside the templates directory (a symlink?)' })
    }
    // Refuse a huge file before reading it.
    if ((await stat(real)).size > MAX_TEMPLATE_BYTES) {
      throw new BootpolicyError('BP_ERR_TEMPLATE_INVALID', { template: `${file}:1`, details: `template is larger than ${MAX_TEMPLATE_BYTES / 1024} KiB` })
    }
    try {
      return parseTemplate(await readFile(real, 'utf8'))
    } catch (err) {
      if (err instanceof TemplateSyntaxError) {
        throw new BootpolicyError('BP_ERR_TEMPLATE_INVALID', { template: `${file}:${err.line}`, details: err.reason })
      }
      throw err
    }
  }
}
