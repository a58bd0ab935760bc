/**
 * The table of docs/reference/errors.md, generated from the catalog (scripts/write-error-docs.ts)
 * so that the page cannot drift from the codes bootpolicy emits. Only the part between the two
 * markers is generated; the prose around it is hand-written. Helpers adding codes in parallel
 * edit only catalog.ts: after a merge the table is regenerated, never merged by hand.
 */
import type { CatalogEntry } from './catalog.js'

export const TABLE_START = '<!-- error-table:start (generated from core/errors/catalog.ts by `npm run error-docs`; do not edit) -->'
export const TABLE_END = '<!-- error-table:end -->'

/** One table cell: a `|` would end the cell, a line break the row. */
function cell(code: string, text: string): string {
  if (/[\r\n]/.test(text)) throw new Error(`catalog entry ${code}: documentation text must be one line`)
  if (text.trim() === '') throw new Error(`catalog entry ${code}: documentation text is empty`)
  return text.replace(/\\?\|/g, '\\|')
}

/** `| Code | When | How to fix |` with a row per entry, in catalog order; an HTTP status opens its When cell. */
export function errorTable(catalog: Readonly<Record<string, CatalogEntry>>): string {
  const rows = Object.entries(catalog).map(([code, e]) => {
    const when = `${e.status === undefined ? '' : `HTTP ${e.status}. `}${e.when}`
    return `| \`${code}\` | ${cell(code, when)} | ${cell(code, e.fix)} |`
  })
  return ['| Code | When | How to fix |', '|---|---|---|', ...rows].join('\n')
}

/** The page with the text between the markers replaced by `table`; throws if the markers are not there exactly once, in order. */
export function withErrorTable(page: string, table: string): string {
  const start = page.indexOf(TABLE_START)
  const end = page.indexOf(TABLE_END)
  if (start < 0 || end < 0 || end < start || page.indexOf(TABLE_START, start + 1) >= 0 || page.indexOf(TABLE_END, end + 1) >= 0) {
    throw new Error(`the page must hold the markers ${TABLE_START} and ${TABLE_END} once each, in that order`)
  }
  return `${page.slice(0, start + TABLE_START.length)}\n${table}\n${page.slice(end)}`
}
