/**
 * Positions in the event log: nanoseconds since the epoch as 21 fixed-width digits, so they compare as
 * text and mean the same in either store (Firestore's commit times, memory's clock).
 */
export const SEQ_DIGITS = 21

export const seqOf = (seconds: number, nanos: number): string =>
  `${String(seconds).padStart(SEQ_DIGITS - 9, '0')}${String(nanos).padStart(9, '0')}`

export const seqParts = (seq: string): { seconds: number, nanos: number } =>
  ({ seconds: Number(seq.slice(0, SEQ_DIGITS - 9)), nanos: Number(seq.slice(SEQ_DIGITS - 9)) })

/** Epoch ms of a position. */
export const seqMs = (seq: string): number => {
  const { seconds, nanos } = seqParts(seq)
  return seconds * 1000 + Math.floor(nanos / 1e6)
}

export const isSeq = (text: string): boolean => text.length === SEQ_DIGITS && /^\d+$/.test(text)

/** One process's strictly increasing positions: the clock's millisecond, then a counter within it. */
export class SeqClock {
  #last = ''
  readonly #now: () => number

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  /** The position of epoch ms `ms` (before any event recorded at or after it). */
  at (ms: number): string {
    return seqOf(Math.floor(ms / 1000), (ms % 1000) * 1e6)
  }

  next (): string {
    let seq = this.at(this.#now())
    if (seq <= this.#last) {
      const { seconds, nanos } = seqParts(this.#last)
      seq = nanos + 1 < 1e9 ? seqOf(seconds, nanos + 1) : seqOf(seconds + 1, 0)
    }
    this.#last = seq
    return seq
  }
}
