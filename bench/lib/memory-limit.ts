import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs'

/** A Cloud Run instance's memory when the service sets none, as build-deploy-api.sh does. */
export const CLOUD_RUN_MEMORY = 512 * 1048576

export interface MemoryLimit {
  /** The limit, as the tables name it. */
  about: string
  /** `command args`, started inside the limit: the shell joins the cgroup, then execs (same pid). */
  wrap: (command: string, args: string[]) => [string, string[]]
  /** Removes the cgroup, once its processes have exited. */
  remove: () => void
}

/**
 * A memory cgroup of `bytes` for a spawned server, as Cloud Run gives each instance. Node sizes V8's heap
 * from it (process.constrainedMemory()); without it Node 24 sizes its young generation to the whole machine
 * and holds ~220 MiB under load where, at 512 MiB, it holds ~128. Undefined where no cgroup can be made (not root).
 */
export function memoryLimit (bytes: number): MemoryLimit | undefined {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers')
  const group = v2 ? `/sys/fs/cgroup/jobgate-bench-${process.pid}` : `/sys/fs/cgroup/memory/jobgate-bench-${process.pid}`
  const remove = (): void => { try { rmdirSync(group) } catch { /* already gone, or still in use */ } }
  try {
    mkdirSync(group)
    writeFileSync(`${group}/${v2 ? 'memory.max' : 'memory.limit_in_bytes'}`, String(bytes))
  } catch {
    remove()
    return undefined
  }
  return {
    about: `${bytes / 1048576} MiB memory cgroup`,
    wrap: (command, args) => ['sh', ['-c', `echo $$ > ${group}/cgroup.procs && exec "$0" "$@"`, command, ...args]],
    remove
  }
}
