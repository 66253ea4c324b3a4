/** The contiguous slice [start, end) of `total` items that task `index` of `count` owns. */
export interface Shard {
  start: number
  end: number
}

/**
 * Splits `total` items into `count` contiguous slices whose sizes differ by at most one;
 * every item is owned by exactly one task, and tasks past `total` own an empty slice.
 */
export function shard (total: number, index: number, count: number): Shard {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`total must be a non-negative integer, got ${total}`)
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`)
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new RangeError(`index must be in [0, ${count}), got ${index}`)
  const base = Math.floor(total / count)
  const extra = total % count
  // The first `extra` tasks take one item more, so slices stay balanced.
  const start = index * base + Math.min(index, extra)
  const end = start + base + (index < extra ? 1 : 0)
  return { start, end }
}
