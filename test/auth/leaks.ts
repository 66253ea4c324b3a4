import type { ApiError } from '../../api/errors.js'

/**
 * The secrets (and their longer parts, e.g. JWT segments) that show up anywhere a client or a log
 * could see them: message, response body, stack, and the `cause` chain.
 */
export function leaksOf (error: ApiError, secrets: readonly string[]): string[] {
  const visible: string[] = [error.message, JSON.stringify(error.toBody()), String(error.stack)]
  for (let cause: unknown = error.cause; cause !== undefined; cause = cause instanceof Error ? cause.cause : undefined) {
    visible.push(cause instanceof Error ? `${cause.message} ${String(cause.stack)}` : String(cause))
  }
  const parts = secrets.flatMap(secret => [secret, ...secret.split('.').filter(part => part.length > 8)])
  return parts.filter(part => visible.some(text => text.includes(part)))
}
