/**
 * Installer tokens: 160 random bits as 40 hex digits (safe on a kernel command line, in a URL and
 * in an iPXE script), stored only as their SHA-256, compared in constant time, and registered with
 * the log's secret registry the moment they exist so that no log line can carry one.
 *
 * Policies and templates write INTENT_TOKEN where the token belongs (a kernel argument, a preseed
 * URL); the engine replaces it in the finished script, after every cache, so a memoized decision or
 * body never holds one machine's token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { registerSecret } from '../log/secret-registry.js'

/** Mirrors bootpolicy/policy's INTENT_TOKEN (the sandbox cannot import this file). */
export const TOKEN_PLACEHOLDER = '@bp-intent-token@'
const TOKEN = /^[0-9a-f]{40}$/

export function mintToken(): { token: string; hash: string } {
  const token = randomBytes(20).toString('hex')
  registerSecret(token)
  return { token, hash: hashToken(token) }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** A well-formed token (anything else is refused before any lookup). */
export function isTokenText(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value)
}

/** Constant-time comparison of two hex SHA-256 digests. */
export function hashesMatch(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y)
}
