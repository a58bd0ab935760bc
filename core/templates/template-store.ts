/**
 * iPXE script templates (templates/<name>.ipxe), rendered with eta.
 * `<%= value %>` is checked by `escapeValue`: a value that could change the script (whitespace,
 * `$`, `#`, `|`, `&`, `;`, control characters) throws BP_ERR_RENDER_UNSAFE_VALUE instead of
 * being written. `it.text(v)` makes display text safe by replacing such characters; `it.url(v)`
 * percent-encodes a URL component. `<%~ %>` writes raw and is for trusted admin data only.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Eta } from 'eta'
import type { BootContext } from '../context/types.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'

const SAFE_VALUE = /^[A-Za-z0-9._~:/?=@%+,!*'()[\]^-]*$/

/** Output of it.text() / it.url(): already safe, so `<%= %>` writes it as it is. */
export class SafeValue {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

export function escapeValue(value: unknown): string {
  if (value instanceof SafeValue) return value.value
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value)
  if (!SAFE_VALUE.test(s) || s.startsWith('-')) {
    throw new BootpolicyError('BP_ERR_RENDER_UNSAFE_VALUE', {
      field: 'template value',
      reason: 'contains characters iPXE would interpret; use it.text() or it.url()',
    })
  }
  return s
}

/** Display text: anything outside a plain set becomes `?`, so nothing can split or expand. */
export function safeText(value: unknown): SafeValue {
  const s = String(value ?? '')
  return new SafeValue(
    s
      .replace(/[^A-Za-z0-9 ._~:/?=@%+,!*'()[\]<>^"-]/g, '?')
      .replace(/ {2,}/g, ' ')
      .replace(/(^| )-/g, '$1?')
      .trim(),
  )
}

/** A URL component, percent-encoded (unreserved characters only). */
export function safeUrlComponent(value: unknown): SafeValue {
  return new SafeValue(encodeURIComponent(String(value ?? '')).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
}

export interface TemplateData {
  readonly ctx: BootContext
  readonly vars: Readonly<Record<string, unknown>>
  readonly requestId: string
}

export class TemplateStore {
  private readonly eta = new Eta({
    autoEscape: true,
    escapeFunction: escapeValue,
    autoTrim: false,
    cache: true,
    useWith: false,
  })
  private names = new Set<string>()

  constructor(readonly dir: string) {}

  /** (Re)load every *.ipxe file; returns the problems found (compile errors), per file. */
  async load(): Promise<{ file: string; error: string }[]> {
    const problems: { file: string; error: string }[] = []
    let files: string[] = []
    try {
      files = (await readdir(this.dir, { recursive: true })).filter((f) => f.endsWith('.ipxe'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const names = new Set<string>()
    for (const file of files.sort()) {
      const name = file.slice(0, -'.ipxe'.length).split('\\').join('/')
      try {
        const text = await readFile(join(this.dir, file), 'utf8')
        this.eta.loadTemplate(`@${name}`, this.eta.compile(text))
        names.add(name)
      } catch (err) {
        problems.push({ file: join(this.dir, file), error: messageOf(err) })
      }
    }
    this.names = names
    return problems
  }

  has(name: string): boolean {
    return this.names.has(name)
  }

  list(): string[] {
    return [...this.names]
  }

  render(name: string, data: TemplateData): string {
    if (!this.names.has(name)) {
      throw new BootpolicyError('BP_ERR_RENDER_TEMPLATE', { template: name, details: 'no such template' })
    }
    try {
      const out = this.eta.render(`@${name}`, { ...data, requestId: new SafeValue(data.requestId), text: safeText, url: safeUrlComponent })
      return out.startsWith('#!ipxe') ? out : `#!ipxe\n${out}`
    } catch (err) {
      if (err instanceof BootpolicyError) throw err
      throw new BootpolicyError('BP_ERR_RENDER_TEMPLATE', { template: name, details: messageOf(err) }, { cause: err })
    }
  }
}
