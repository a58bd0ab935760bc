/**
 * Compile a policy (TypeScript) into one self-contained script for the sandbox.
 * esbuild bundles it with the pure helpers it imports; any other import (node:fs, npm packages,
 * files outside the policies directory) is a compile error, so no I/O can reach the sandbox.
 * Compiling is a few milliseconds; it happens at load and on every change in the directory.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { BootpolicyError } from '../errors/bp-error.js'

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
}

/** The modules a policy may import, by specifier → absolute file. */
export type ImportableModules = ReadonlyMap<string, string>

const here = dirname(fileURLToPath(import.meta.url))
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'

export function defaultImportables(extra: Iterable<[string, string]> = []): ImportableModules {
  return new Map([['bootpolicy/policy', resolve(here, `../policy-api/index${ext}`)], ...extra])
}

export async function compilePolicy(
  file: string,
  rootDir: string,
  importables: ImportableModules = defaultImportables(),
): Promise<CompiledPolicy> {
  const source = await readFile(file, 'utf8')
  const name = relative(rootDir, file).split(sep).join('/')

  const root = resolve(rootDir)
  let result: esbuild.BuildResult<{ write: false; sourcemap: 'external'; outdir: string }>
  try {
    result = await esbuild.build({
      stdin: { contents: source, loader: 'ts', resolveDir: dirname(file), sourcefile: name },
      bundle: true,
      write: false,
      format: 'iife',
      globalName: GLOBAL_NAME,
      platform: 'neutral',
      target: 'es2022',
      sourcemap: 'external',
      outdir: root,
      logLevel: 'silent',
      absWorkingDir: resolve(rootDir),
      plugins: [restrictImports(root, importables)],
    })
  } catch (err) {
    const failure = err as esbuild.BuildFailure
    const details = (failure.errors ?? [])
      .map((e) => `${e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : ''}${e.text}`)
      .join('; ')
    throw new BootpolicyError('BP_ERR_POLICY_COMPILE', { policy: name, details: details || String(err) }, { cause: err })
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('.js'))!.text
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'))!.text
  const idx = source.search(/export\s+default\b/)
  const entry = idx < 0 ? name : `${name}:${source.slice(0, idx).split('\n').length}`
  // The hash covers the whole bundle, so editing a shared `_helper.ts` is a new revision too.
  const hash = createHash('sha256').update(code).digest('hex')
  return { name, file, hash, code, map, entry }
}

function restrictImports(root: string, importables: ImportableModules): esbuild.Plugin {
  return {
    name: 'bootpolicy-restrict-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined
        const mapped = importables.get(args.path)
        if (mapped) return { path: mapped }
        // The helpers' own relative imports (types only, erased) and the policy's own helper files.
        const importer = args.importer === '<stdin>' ? args.resolveDir : dirname(args.importer)
        if (args.path.startsWith('.')) {
          const target = resolve(args.resolveDir || importer, args.path)
          const insideRoot = target === root || target.startsWith(root + sep)
          const fromHelpers = [...importables.values()].some((m) => args.importer === m || args.importer.startsWith(dirname(m)))
          if (insideRoot || fromHelpers) return undefined
        }
        return {
          errors: [{ text: `"${args.path}" cannot be imported by a policy: only bootpolicy/policy, plugin helpers and files in the policies directory` }],
        }
      })
    },
  }
}
