/**
 * Named fields → the query string /boot would receive, every name and value percent-encoded. The
 * admin explain endpoint and `bootpolicy explain` both feed the engine through it.
 */
export function toQuery(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&')
}
