/**
 * A migration guide's text IS the fixture of the scenario that proves it: this writes the guide's
 * marked fenced blocks (```json file=bootpolicy.json, ```ts file=policies/x.ts) into a test's site
 * directory, with site-specific values (addresses, interface, paths, MACs) swapped for the test's.
 * A guide whose config or policy changes changes the test; a substitution whose text is no longer
 * in the guide fails loudly instead of silently testing something else.
 *
 * API: writeGuideFixture(guidePath, destDir, substitutions) → { path relative to destDir: text }.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, normalize, sep } from 'node:path'

/** One marked block: its language, the relative file it becomes, and its text. */
export interface GuideBlock {
  readonly lang: string
  readonly file: string
  readonly text: string
}

/** A ``` or ~~~ fence (3 or more, so a block may hold a shorter fence), a language, `file=<path>` among the info words. */
const FENCE = /^(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+-]*)([^\n]*)\n([\s\S]*?)\n?^\1[ \t]*$/gm

/** The guide's blocks marked `file=…`, in order. A path leaving the site or two blocks naming one file are errors. */
export function guideBlocks(markdown: string): GuideBlock[] {
  const blocks: GuideBlock[] = []
  for (const m of markdown.matchAll(FENCE)) {
    const named = /(?:^|\s)file=(\S+)/.exec(m[3] ?? '')?.[1]
    if (named === undefined) continue
    const file = normalize(named)
    if (isAbsolute(file) || file === '..' || file.startsWith(`..${sep}`) || file.includes('\0')) {
      throw new Error(`guide block file=${named} leaves the fixture directory`)
    }
    if (blocks.some((b) => b.file === file)) throw new Error(`guide has two blocks for file=${file}`)
    blocks.push({ lang: m[2] ?? '', file, text: m[4] ? `${m[4]}\n` : '' })
  }
  return blocks
}

/**
 * Write every `file=` block of `guidePath` under `destDir`, after replacing each key of
 * `substitutions` (literal text, longest first, so `10.0.0.10` is not hit by a `10.0.0.1` rule, in
 * one pass, so a replacement is never replaced again) by its value. Every key must occur in some
 * block and the guide must have at least one block; all of it is checked before anything is written.
 */
export function writeGuideFixture(guidePath: string, destDir: string, substitutions: Readonly<Record<string, string>> = {}): Record<string, string> {
  const blocks = guideBlocks(readFileSync(guidePath, 'utf8'))
  if (blocks.length === 0) throw new Error(`${guidePath}: no fenced block marked file=…`)
  const keys = Object.keys(substitutions).sort((a, b) => b.length - a.length)
  if (keys.includes('')) throw new Error('writeGuideFixture: an empty substitution key')
  const used = new Set<string>()
  const any = keys.length > 0 ? new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : undefined
  const texts = blocks.map((b) =>
    any
      ? b.text.replace(any, (hit) => {
          used.add(hit)
          return substitutions[hit]!
        })
      : b.text,
  )
  const unused = keys.filter((k) => !used.has(k))
  if (unused.length > 0) throw new Error(`${guidePath}: substitutions not found in any file= block: ${unused.map((k) => JSON.stringify(k)).join(', ')}`)
  const written: Record<string, string> = {}
  blocks.forEach((block, i) => {
    const target = join(destDir, block.file)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, texts[i]!)
    written[block.file] = texts[i]!
  })
  return written
}
