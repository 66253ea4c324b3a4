import type * as AuthLibrary from 'google-auth-library'

/**
 * google-auth-library, loaded on first use (it is ~0.4 MB of code a cold start rarely needs).
 * Read through `default` (its module.exports): Node's CommonJS interop and the server bundle's both have it.
 */
export async function googleAuthLibrary (): Promise<typeof AuthLibrary> {
  const loaded = await import('google-auth-library') as typeof AuthLibrary & { default?: typeof AuthLibrary }
  return loaded.default ?? loaded
}
