/**
 * A migration guide's text is the fixture of the scenario that proves it: the fenced blocks marked
 * with a file name (```json file=bootpolicy.json, ```ts file=policies/20-menu.ts) are written into
 * the test's site directory, so a guide whose text drifts from what boots fails the suite.
 *
 * API: writeGuideFixture(guidePath, destDir, substitutions) → { path relative to destDir: text }.
 * `substitutions` are literal replacements (the guide's example address and folders → the test's);
 * each one must occur in some marked block, or the guide changed and the test would silently test
 * something else.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join, normalize, sep } from 'node:path'

/** ``` or ~~~ fence, a language, then `file=<relative path>` among the info words. */
const FENCE = /^(```|~~~)[ \t]*([\w+-]*)([^\n]*)\n([\s\S]*?)^\1[ \t]*$/gm

export interface GuideBlock {
  readonly file: string
  readonly lang: string
  readonly text: string
}

/** The marked blocks of a guide's markdown, in order. Throws on a bad or repeated file name. */
export function guideBlocks(markdown: string, source = 'guide'): GuideBlock[] {
  const blocks: GuideBlock[] = []
  for (const m of markdown.matchAll(FENCE)) {
    const file = /(?:^|\s)file=(\S+)/.exec(m[3] ?? '')?.[1]
    if (file === undefined) continue
    const clean = normalize(file)
    if (isAbsolute(file) || clean === '..' || clean.startsWith(`..${sep}`) || clean.includes('\0')) {
      throw new Error(`${source}: block file=${file} must be a relative path inside the site directory`)
    }
    if (blocks.some((b) => b.file === clean)) throw new Error(`${source}: two blocks for file=${clean}`)
    blocks.push({ file: clean, lang: m[2] ?? '', text: m[4] ?? '' })
  }
  return blocks
}

export function writeGuideFixture(
  guidePath: string,
  destDir: string,
  substitutions: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const blocks = guideBlocks(readFileSync(guidePath, 'utf8'), guidePath)
  if (blocks.length === 0) throw new Error(`${guidePath}: no fenced block marked file=<path>`)
  const unused = new Set(Object.keys(substitutions))
  const written: Record<string, string> = {}
  for (const block of blocks) {
    let text = block.text
    for (const [from, to] of Object.entries(substitutions)) {
      if (from === '') throw new Error('writeGuideFixture: an empty substitution key')
      if (text.includes(from)) unused.delete(from)
      text = text.split(from).join(to)
    }
    const target = join(destDir, block.file)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, text)
    written[block.file] = text
  }
  if (unused.size > 0) throw new Error(`${guidePath}: substitution ${[...unused].map((s) => JSON.stringify(s)).join(', ')} occurs in no marked block`)
  return written
}
