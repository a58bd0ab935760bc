/**
 * Type-check the policies of one directory with the TypeScript compiler, the way an editor sees
 * them. esbuild (compile-policy.ts) only strips types, so `ctx.prodcut` compiles, loads and
 * quietly decides nothing; this is what catches it. One program covers every file of the
 * directory (policies, their `.test.ts` and `_helpers.ts`), so the lib files are parsed once.
 * Pure: a directory and the importable map in, diagnostics out; it reads files and writes none.
 * A long-lived caller (the server's type-check thread) passes a SourceFileCache: files outside
 * the directory (TypeScript's lib files, bootpolicy/policy's types) are then parsed once, which
 * is most of a small directory's cost.
 */
import { existsSync, readdirSync } from 'node:fs'
import { relative, resolve, sep } from 'node:path'
import ts from 'typescript'
import type { ImportableModules } from './compile-policy.js'

export interface TypeDiagnostic {
  /** Relative to the directory for files inside it (`10-per-mac.ts`), else absolute. */
  readonly file: string
  readonly line: number
  readonly col: number
  /** TypeScript's code, e.g. `TS2339`. */
  readonly code: string
  readonly message: string
}

/**
 * The compiler options of `bootpolicy check`; `bootpolicy init` writes the same into the site's
 * tsconfig.json, so that the editor, `tsc` and `check` agree. Policies are bundled (esbuild) and
 * run without Node: bundler resolution, ES2022 and no @types/node.
 */
export const POLICY_COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'Preserve',
  moduleResolution: 'Bundler',
  lib: ['ES2022'],
  types: [] as string[],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  allowJs: true,
  checkJs: false,
  isolatedModules: true,
  allowImportingTsExtensions: true,
} as const

/** The file that carries a module's types: a `.ts` itself, a `.js` its sibling `.d.ts` when there is one. */
export function typesFileOf(file: string): string {
  if (!file.endsWith('.js')) return file
  const dts = `${file.slice(0, -3)}.d.ts`
  return existsSync(dts) ? dts : file
}

/** `paths` entries for the importable modules (specifier → its types file). */
export function importablePaths(importables: ImportableModules): Record<string, string[]> {
  return Object.fromEntries([...importables].map(([spec, file]) => [spec, [typesFileOf(file)]]))
}

/** Parsed files outside the policies directory, by file name: they do not change while a server runs. */
export type SourceFileCache = Map<string, ts.SourceFile>

export function typeCheckPolicies(dir: string, importables: ImportableModules, cache?: SourceFileCache): TypeDiagnostic[] {
  const root = resolve(dir)
  const files = readdirSync(root)
    .filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'))
    .sort()
    .map((n) => resolve(root, n))
  if (files.length === 0) return []
  const { options, errors } = ts.convertCompilerOptionsFromJson({ ...POLICY_COMPILER_OPTIONS, paths: importablePaths(importables) }, root)
  if (errors.length) return errors.map((d) => toDiagnostic(d, root))
  const inside = (f: string): boolean => f.startsWith(root + sep)
  const programOptions = { ...options, noEmit: true }
  const host = ts.createCompilerHost(programOptions)
  if (cache) {
    const read = host.getSourceFile.bind(host)
    host.getSourceFile = (fileName, language, onError, fresh) => {
      if (inside(resolve(fileName))) return read(fileName, language, onError, fresh)
      const hit = cache.get(fileName)
      if (hit) return hit
      const parsed = read(fileName, language, onError, fresh)
      if (parsed) cache.set(fileName, parsed)
      return parsed
    }
  }
  const program = ts.createProgram({ rootNames: files, options: programOptions, host })
  return (
    ts
      .getPreEmitDiagnostics(program)
      // Plugin helpers shipped as .ts are the plugin's business: report the site's own files only.
      .filter((d) => !d.file || inside(resolve(d.file.fileName)))
      // A plain-JavaScript plugin ships helpers without declarations: they are `any` to the policy, as
      // in JavaScript, not an error (TS7016 "Could not find a declaration file for module").
      .filter((d) => !(d.code === 7016 && ts.flattenDiagnosticMessageText(d.messageText, '\n').includes("'bootpolicy/plugins/")))
      .map((d) => toDiagnostic(d, root))
  )
}

function toDiagnostic(d: ts.Diagnostic, root: string): TypeDiagnostic {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
  const code = `TS${d.code}`
  if (!d.file || d.start === undefined) return { file: root, line: 1, col: 1, code, message }
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
  const abs = resolve(d.file.fileName)
  const rel = relative(root, abs)
  return { file: rel.startsWith('..') ? abs : rel.split(sep).join('/'), line: line + 1, col: character + 1, code, message }
}
