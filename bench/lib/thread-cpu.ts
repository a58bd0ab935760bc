/** CPU time (ms) of one thread of this process, from /proc (Linux): the main thread's task id is the pid. */
import { readFileSync } from 'node:fs'

export function threadCpuMs(tid = process.pid): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}
