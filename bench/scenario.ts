/** What every benchmark scenario is: a name and a function returning rows for the one table `npm run bench` prints. */
export interface Row {
  /** What was measured, e.g. "spawn → /healthz 200 (median of 10)". */
  measure: string
  /** The figure, formatted with its unit. */
  value: string
  /** The figure it is compared with, measured in the same run (bare node, the libraries' import…). */
  anchor?: string
  /** The goal as a ratio or bound, and whether this run met it. */
  goal?: { text: string, met: boolean }
}

export interface BenchOptions {
  /** Samples of each spawn measurement. */
  samples: number
  /** Seconds of load for the throughput and memory figures. */
  loadSeconds: number
  /** Seconds of the soak that checks memory does not grow, RSS read each minute (0: skipped; default 300). */
  soakSeconds: number
  /** Other builds' `api/server.js`, started beside jobgate's in the startup scenario (e.g. an earlier commit built with --outDir). */
  compare?: string[]
}

export interface Scenario {
  name: string
  /** One sentence: what it measures and against what. */
  about: string
  run: (options: BenchOptions) => Promise<Row[]>
}
