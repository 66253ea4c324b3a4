import { formatElapsed } from './duration.js'
import type { Terminal } from './terminal.js'
import type { Batch, Run } from './types.js'

export { ttyFrame } from './terminal.js'

const barWidth = 20

/** `[#######-------------] 7/10`: tasks done (succeeded + failed) of the run's task count. */
export function progressBar (done: number, total: number | undefined, width: number = barWidth): string {
  if (total === undefined || total <= 0) return `[${'-'.repeat(width)}] ${done}/?`
  const filled = Math.min(width, Math.round((Math.min(done, total) / total) * width))
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`
}

const count = (value: number | undefined): number => value ?? 0

/** The bar and the task counts: `[##----] 2/10  succeeded 2  failed 0  running 8`. */
export function taskCounts (run: Run): string {
  const succeeded = count(run.succeededCount)
  const failed = count(run.failedCount)
  const cancelled = count(run.cancelledCount)
  const parts = [progressBar(succeeded + failed, run.taskCount), `succeeded ${succeeded}`, `failed ${failed}`, `running ${count(run.runningCount)}`]
  if (cancelled > 0) parts.push(`cancelled ${cancelled}`)
  return parts.join('  ')
}

/** A run's state as people read it: `QUEUED (position 12)` while a Queue policy holds it. */
export const stateLabel = (run: Pick<Run, 'state' | 'position'>): string =>
  run.state === 'QUEUED' && run.position !== undefined ? `QUEUED (position ${run.position})` : run.state

/** The one-line picture of a run: name, state, bar, counts, elapsed. */
export const describeRun = (run: Run, elapsedMs: number): string =>
  [run.name, stateLabel(run).padEnd(9), taskCounts(run), formatElapsed(elapsedMs)].join('  ')

/** What must differ for the plain renderer to print another line: state or counts, not time. */
export const changeKey = (run: Run): string =>
  [stateLabel(run), run.taskCount, run.succeededCount, run.failedCount, run.runningCount, run.cancelledCount].map(v => v ?? 0).join('|')

/** Elapsed time of a run: since its createTime when known, else since we started watching. */
export function elapsedMs (run: Run, now: number, watchingSince: number): number {
  const created = run.createTime === undefined ? Number.NaN : Date.parse(run.createTime)
  const since = Number.isNaN(created) ? watchingSince : created
  const until = run.completionTime === undefined ? Number.NaN : Date.parse(run.completionTime)
  return Math.max(0, (Number.isNaN(until) ? now : until) - since)
}

export interface ProgressRenderer {
  /** A fresh Run from the API. */
  update: (run: Run) => void
  /** Time passed (TTY: redraw the elapsed time). */
  tick: () => void
  /** Waiting is over: leave the last picture on screen. */
  finish: () => void
}

export interface RendererOptions {
  terminal: Terminal
  now?: () => number
}

/** TTY: one line redrawn in place on every update and tick. */
export function ttyRenderer ({ terminal, now = Date.now }: RendererOptions): ProgressRenderer {
  const since = now()
  let last: Run | undefined
  const draw = (): void => { if (last !== undefined) terminal.showStatus(describeRun(last, elapsedMs(last, now(), since))) }
  return {
    update: run => { last = run; draw() },
    tick: draw,
    finish: () => terminal.commitStatus()
  }
}

/** Not a TTY (CI logs): one plain line per change of state or counts, nothing otherwise. */
export function plainRenderer ({ terminal, now = Date.now }: RendererOptions): ProgressRenderer {
  const since = now()
  let lastKey: string | undefined
  return {
    update: run => {
      const key = changeKey(run)
      if (key === lastKey) return
      lastKey = key
      terminal.err(describeRun(run, elapsedMs(run, now(), since)))
    },
    tick: () => {},
    finish: () => {}
  }
}

export const progressRenderer = (options: RendererOptions): ProgressRenderer =>
  options.terminal.isTTY ? ttyRenderer(options) : plainRenderer(options)

/** A batch's runs as people read them: `3 queued, 2 running, 1 succeeded, 0 failed, 0 cancelled`. */
export const describeCounts = ({ counts }: Pick<Batch, 'counts'>): string =>
  `${counts.queued} queued, ${counts.running} running, ${counts.succeeded} succeeded, ` +
  `${counts.failed} failed, ${counts.cancelled} cancelled`
