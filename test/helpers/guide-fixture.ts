/**
 * A migration guide's text IS the fixture of the scenario that proves it: this writes the guide's
 * marked fenced blocks (```json file=bootpolicy.json, ```ts file=policies/x.ts) into a test's site
 * directory, with site-specific values (addresses, interface, paths, MACs) swapped for the test's.
 * A guide whose config or policy changes changes the test; a substitution whose text is no longer
 * in the guide fails loudly instead of silently testing something else.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, normalize, sep } from 'node:path'

/** One marked block: its language, the relative file it becomes, and its text. */
export interface GuideBlock {
  readonly lang: string
  readonly file: string
  readonly text: string
}

const FENCE = /^(`{3,})([A-Za-z0-9_-]*)[ \t]+file=(\S+)[ \t]*\n([\s\S]*?)\n\1[ \t]*$/gm

/** The guide's blocks marked `file=…`, in order. Two blocks naming one file are an error. */
export function guideBlocks(markdown: string): GuideBlock[] {
  const blocks: GuideBlock[] = []
  for (const m of markdown.matchAll(FENCE)) {
    const file = normalize(m[3]!)
    if (isAbsolute(file) || file === '..' || file.startsWith(`..${sep}`)) throw new Error(`guide block file=${m[3]} leaves the fixture directory`)
    if (blocks.some((b) => b.file === file)) throw new Error(`guide has two blocks for file=${file}`)
    blocks.push({ lang: m[2]!, file, text: `${m[4]!}\n` })
  }
  return blocks
}

/**
 * Write every `file=` block of `guidePath` under `destDir`, after replacing each key of
 * `substitutions` (literal text, longest first, so `10.0.0.10` is not hit by a `10.0.0.1` rule)
 * by its value. Every key must occur in some block, and the guide must have at least one block.
 * Returns the written files, relative to `destDir`.
 */
export function writeGuideFixture(guidePath: string, destDir: string, substitutions: Readonly<Record<string, string>> = {}): string[] {
  const blocks = guideBlocks(readFileSync(guidePath, 'utf8'))
  if (blocks.length === 0) throw new Error(`${guidePath}: no fenced block marked file=…`)
  const keys = Object.keys(substitutions).sort((a, b) => b.length - a.length)
  const used = new Set<string>()
  const any = keys.length > 0 ? new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : undefined
  // One pass over the original text: a replacement is never itself replaced again.
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
  blocks.forEach((block, i) => {
    const target = join(destDir, block.file)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, texts[i]!)
  })
  return blocks.map((b) => b.file)
}
