import type { Command } from '../args.js'
import type { Context } from '../context.js'

type CancelCommand = Extract<Command, { name: 'cancel' }>

/** `jobgate cancel`: asks the API to cancel; exit 0 when it accepted. */
export async function cancelCommand (command: CancelCommand, ctx: Context): Promise<number> {
  const run = await ctx.client.cancelRun(command.job, command.run, ctx.signal)
  ctx.terminal.out(ctx.json ? JSON.stringify(run, null, 2) : `Cancel requested for run ${run.name} of job ${command.job}; state now ${run.state}.`)
  return 0
}
