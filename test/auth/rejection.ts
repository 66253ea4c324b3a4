import type { Authenticator } from '../../api/auth/index.js'
import { ApiError } from '../../api/errors.js'

/** Authenticates and returns the ApiError it must fail with; succeeding is a test failure. */
export async function rejection (auth: Authenticator, headers: Record<string, string | string[]>): Promise<ApiError> {
  try {
    await auth.authenticate(headers)
  } catch (error) {
    if (error instanceof ApiError) return error
    throw error
  }
  throw new Error('authentication unexpectedly succeeded')
}
