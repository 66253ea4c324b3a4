export const median = (samples: readonly number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

const percentile = (samples: readonly number[], fraction: number): number =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length * fraction)] ?? 0
export const p90 = (samples: readonly number[]): number => percentile(samples, 0.9)
export const p99 = (samples: readonly number[]): number => percentile(samples, 0.99)

export const ms = (n: number): string => `${n.toFixed(1)} ms`
export const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`
export const perSecond = (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`
export const times = (ratio: number): string => `${ratio.toFixed(2)}×`

/** A ratio goal: `value / anchor ≤ max`. */
export const atMost = (value: number, anchor: number, max: number, label: string): { text: string, met: boolean } =>
  ({ text: `${times(value / anchor)} ${label} (goal ≤ ${max}×)`, met: value / anchor <= max })
