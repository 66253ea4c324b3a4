import { readFileSync } from 'node:fs'

/** Resident set size of a running process, in bytes (Linux /proc). */
export function rssBytes (pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(line?.[1] ?? 0) * 1024
}

/** CPU time (user + system) a running process has used, in ms: steadier than wall time on a shared machine. */
export function cpuMs (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 1000 / 100
}
