/**
 * The whole-suite secret grep: reads the secrets test helpers created ($BP_TEST_TRAIL/secrets, one
 * JSON string a line) and fails if any appears in any captured line (logs-*.txt, responses-*.txt).
 * Prints how many lines and secrets it checked; a leak is named by file, line and a masked secret
 * (never the secret itself). Usage: node --import tsx scripts/check-secret-trail.ts <dir>
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Shorter strings would match by chance; helpers create longer secrets. */
const MIN_SECRET = 6

export interface TrailReport {
  readonly lines: number
  readonly secrets: number
  readonly files: number
  readonly leaks: ReadonlyArray<{ file: string; line: number; secret: string }>
}

export function mask(secret: string): string {
  return `${secret.slice(0, 2)}…(${secret.length} chars)`
}

export function checkSecretTrail(dir: string): TrailReport {
  const names = readdirSync(dir)
  const secrets = names.includes('secrets')
    ? [
        ...new Set(
          readFileSync(join(dir, 'secrets'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as string),
        ),
      ].filter((s) => s.length >= MIN_SECRET)
    : []
  const leaks: Array<{ file: string; line: number; secret: string }> = []
  let lines = 0
  const files = names.filter((n) => n !== 'secrets' && n.endsWith('.txt'))
  for (const name of files) {
    const text = readFileSync(join(dir, name), 'utf8')
    lines += text.split('\n').length - 1
    // One fast pass per secret over the whole file; line numbers only for the (rare) hits.
    for (const secret of secrets) {
      let at = text.indexOf(secret)
      while (at !== -1) {
        leaks.push({ file: name, line: text.slice(0, at).split('\n').length, secret: mask(secret) })
        at = text.indexOf(secret, at + secret.length)
      }
    }
  }
  return { lines, secrets: secrets.length, files: files.length, leaks }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2]
  if (!dir) {
    console.error('usage: check-secret-trail <trail dir>')
    process.exit(2)
  }
  const report = checkSecretTrail(dir)
  console.log(`secret trail: ${report.lines} captured lines in ${report.files} files checked for ${report.secrets} secrets: ${report.leaks.length} leaks`)
  for (const leak of report.leaks.slice(0, 50)) console.error(`  LEAK ${leak.file}:${leak.line} ${leak.secret}`)
  if (report.leaks.length) process.exit(1)
}
