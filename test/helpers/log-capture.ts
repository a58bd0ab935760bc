/**
 * A pino destination that keeps every line, parsed, for assertions on logs. Under scripts/test.sh
 * the lines also go to the secret trail (secret-trail.ts), which the suite greps for secrets.
 */
import { Writable } from 'node:stream'
import { createLogger } from '../../core/log/logger.js'
import { trailLines } from './secret-trail.js'

export function captureLogs(level = 'debug') {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const logger = createLogger(level, stream)
  trailLines(lines)
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}
