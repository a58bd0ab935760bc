/**
 * The esbuild plugin that decides what a policy may import. A policy's bundle is served to
 * clients (its strings end up in scripts), so whatever it can import it can publish: a symlink in
 * the policies directory to /etc/shadow, or a text loader over a key file, would be a file-read
 * primitive for whoever can write a policy. Rules, checked on the path esbuild resolved and then
 * realpath'd (so neither a symlinked file nor a symlinked directory can lead outside):
 * - bare specifiers only from the importable list (bootpolicy/policy, plugin helpers);
 * - relative imports of policy code only to files whose real path is inside the policies directory;
 * - only code (.ts .js .mts .mjs) and .json: no text, file, binary or data-url loaders, no other
 *   extensions, no import attributes other than `{ type: 'json' }`.
 * The importable helpers are trusted code shipped with bootpolicy or a plugin; their own relative
 * imports are left to esbuild.
 */
import { realpath } from 'node:fs/promises'
import { dirname, extname, sep } from 'node:path'
import type * as esbuild from 'esbuild'
import { isInside } from '../files/resolve-safe-path.js'

export const IMPORTABLE_EXTENSIONS: readonly string[] = ['.ts', '.js', '.mts', '.mjs', '.json']

/** Marks our own nested `build.resolve` call, so the hook does not recurse into itself. */
const INNER = 'bootpolicy-contain-imports'

/** `realRoot` must already be a real path (no symlinks), like the paths it is compared with. */
export function containImports(realRoot: string, importables: ReadonlyMap<string, string>): esbuild.Plugin {
  const helpers = [...importables.values()]
  const fromHelper = (importer: string): boolean => helpers.some((m) => importer === m || importer.startsWith(dirname(m) + sep))
  return {
    name: 'bootpolicy-contain-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData?.[INNER] === true) return undefined
        const mapped = importables.get(args.path)
        if (mapped) return { path: mapped }
        const policyCode = args.importer === '<stdin>' || isInside(realRoot, args.importer)
        if (!policyCode) {
          if (fromHelper(args.importer)) return undefined
          return refuse(args.path, 'is imported by a file outside the policies directory')
        }
        if (!args.path.startsWith('./') && !args.path.startsWith('../')) {
          return refuse(args.path, 'cannot be imported by a policy: only bootpolicy/policy, plugin helpers and files in the policies directory')
        }
        const attrs = Object.entries(args.with)
        if (attrs.length > 0 && !(attrs.length === 1 && args.with.type === 'json')) {
          return refuse(args.path, 'uses import attributes: only { type: "json" } is allowed')
        }
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          with: args.with,
          pluginData: { [INNER]: true },
        })
        if (resolved.errors.length > 0) return { errors: resolved.errors }
        let real: string
        try {
          real = await realpath(resolved.path)
        } catch {
          return refuse(args.path, 'cannot be resolved to a file')
        }
        if (!isInside(realRoot, real)) return refuse(args.path, 'resolves outside the policies directory (a symlink?); a policy imports only files inside it')
        if (!IMPORTABLE_EXTENSIONS.includes(extname(real))) {
          return refuse(args.path, 'cannot be imported: only .ts, .js, .mts, .mjs and .json files (no text, binary or data-url loaders)')
        }
        return { path: real }
      })
    },
  }
}

function refuse(path: string, why: string): esbuild.OnResolveResult {
  return { errors: [{ text: `${JSON.stringify(path)} ${why}` }] }
}
