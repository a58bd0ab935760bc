/**
 * Compile a policy (TypeScript) into one self-contained script for the sandbox.
 * esbuild bundles it with the pure helpers it imports; any other import (node:fs, npm packages,
 * files whose real path is outside the policies directory, non-code files) is a compile error, so
 * no I/O can reach the sandbox and no file can be read into a bundle (see contain-imports.ts).
 * Compiling is a few milliseconds; it happens at load and on every change in the directory.
 */
import { createHash } from 'node:crypto'
import { readFile, realpath } from 'node:fs/promises'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { BootpolicyError } from '../errors/bp-error.js'
import { isInside } from '../files/resolve-safe-path.js'
import { containImports } from './contain-imports.js'

export const GLOBAL_NAME = '__bootpolicy_module'

export interface CompiledPolicy {
  /** Path relative to the policies directory, e.g. `10-per-mac.ts`. */
  readonly name: string
  readonly file: string
  /** sha256 of the compiled bundle (the policy and everything it imports): its revision. */
  readonly hash: string
  readonly code: string
  /** Source map (JSON) from `code` back to the TypeScript source. */
  readonly map: string
  /** `name:line` of the default export, for errors that carry no stack (timeouts, memory). */
  readonly entry: string
  /**
   * The files bundled into it, relative to the policies directory (`10-a.ts`, `_helpers.ts`):
   * a type error in any of them keeps this policy from going live.
   */
  readonly inputs?: readonly string[]
}

/** The modules a policy may import, by specifier → absolute file. */
export type ImportableModules = ReadonlyMap<string, string>

const here = dirname(fileURLToPath(import.meta.url))
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'

export function defaultImportables(extra: Iterable<[string, string]> = []): ImportableModules {
  return new Map([['bootpolicy/policy', resolve(here, `../policy-api/index${ext}`)], ...extra])
}

export async function compilePolicy(file: string, rootDir: string, importables: ImportableModules = defaultImportables()): Promise<CompiledPolicy> {
  const name = relative(rootDir, file).split(sep).join('/')
  // The policy file itself may be a symlink: read it only if its real path stays inside.
  const root = await realpath(resolve(rootDir))
  const realFile = await realpath(file)
  if (!isInside(root, realFile)) {
    throw new BootpolicyError('BP_ERR_POLICY_COMPILE', { policy: name, details: `${name} resolves outside the policies directory (a symlink?)` })
  }
  const source = await readFile(realFile, 'utf8')
  let result: esbuild.BuildResult<{ write: false; sourcemap: 'external'; outdir: string; metafile: true }>
  try {
    result = await esbuild.build({
      stdin: { contents: source, loader: 'ts', resolveDir: dirname(realFile), sourcefile: name },
      bundle: true,
      write: false,
      format: 'iife',
      globalName: GLOBAL_NAME,
      platform: 'neutral',
      target: 'es2022',
      // Async functions and generators become generators on the global Promise, which the
      // isolate wrapper replaces (isolate-wrapper.ts: rejections carry only strings).
      supported: { 'async-await': false, 'async-generator': false, 'for-await': false },
      sourcemap: 'external',
      metafile: true,
      outdir: root,
      logLevel: 'silent',
      absWorkingDir: root,
      plugins: [containImports(root, importables)],
    })
  } catch (err) {
    const failure = err as esbuild.BuildFailure
    const details = (failure.errors ?? []).map((e) => `${e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : ''}${e.text}`).join('; ')
    throw new BootpolicyError('BP_ERR_POLICY_COMPILE', { policy: name, details: details || String(err) }, { cause: err })
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('.js'))!.text
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'))!.text
  const idx = source.search(/export\s+default\b/)
  const entry = idx < 0 ? name : `${name}:${source.slice(0, idx).split('\n').length}`
  // The hash covers the whole bundle, so editing a shared `_helper.ts` is a new revision too.
  const hash = createHash('sha256').update(code).digest('hex')
  // esbuild names stdin `<stdin>` and other inputs relative to absWorkingDir (the real root).
  const inputs = Object.keys(result.metafile.inputs)
    .map((f) => (f === '<stdin>' ? name : f.split(sep).join('/')))
    .filter((f) => !f.startsWith('..') && !f.startsWith('/'))
  return { name, file, hash, code, map, entry, inputs }
}
