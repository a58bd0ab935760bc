/**
 * A debounced recursive directory watch (100 ms), for the template directory: editors write a
 * file in several steps, and one reload per burst is enough. A missing directory is not watched.
 */
import { watch, type FSWatcher } from 'node:fs'

export function watchDir(dir: string, onChange: () => Promise<void>): FSWatcher | undefined {
  let timer: NodeJS.Timeout | undefined
  try {
    const watcher = watch(dir, { recursive: true }, () => {
      clearTimeout(timer)
      timer = setTimeout(() => void onChange().catch(() => undefined), 100)
    })
    watcher.on('error', () => undefined)
    watcher.on('close', () => clearTimeout(timer))
    return watcher
  } catch {
    return undefined
  }
}
