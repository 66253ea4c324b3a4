import { positional } from '../args.js'
import type { CommandModule } from './index.js'

/** `jobgate cancel`: asks the API to cancel; exit 0 when it accepted. */
export const command: CommandModule<{ job: string, run: string }> = {
  prepare: input => ({ job: positional(input, 'job'), run: positional(input, 'run') }),
  async execute ({ job, run: name }, ctx) {
    const run = await ctx.client.cancelRun(job, name, ctx.signal)
    ctx.terminal.out(ctx.json ? JSON.stringify(run, null, 2) : `Cancel requested for run ${run.name} of job ${job}; state now ${run.state}.`)
    return 0
  }
}
