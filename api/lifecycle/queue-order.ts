/**
 * The admission order of queued runs: round-robin across lanes (tenants, or principals on a tenant-free
 * job) in text order, first in first out within a lane. A lane with 2 runs behind another's 10,000 gets
 * its first at the next turn, its second one round later.
 */

/**
 * The place of the `place`-th run of `lane` in the round-robin: every lane's runs of earlier rounds, then
 * the lanes before it (text order) that have a run in its round.
 */
export function roundRobinPosition (place: number, lane: string, sizes: ReadonlyArray<readonly [string, number]>): number {
  let ahead = place - 1
  for (const [other, size] of sizes) {
    if (other === lane) continue
    ahead += Math.min(size, place - 1) + (other < lane && size >= place ? 1 : 0)
  }
  return ahead + 1
}
