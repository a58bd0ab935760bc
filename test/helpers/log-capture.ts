/** A pino destination that keeps every line, parsed, for assertions on logs. */
import { Writable } from 'node:stream'
import { createLogger } from '../../core/log/logger.js'

export function captureLogs(level = 'debug') {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const logger = createLogger(level, stream)
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}
