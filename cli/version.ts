import { readFileSync } from 'node:fs'

/** Set by the bundles (scripts/cli-bundles.mjs) to cli/package.json's version; absent when running the compiled sources. */
declare const JOBGATE_CLI_VERSION: string | undefined

/** The CLI package's version: from the bundle, else cli/package.json beside the source (cli/) or the build (dist/cli/). */
export function cliVersion (): string {
  if (typeof JOBGATE_CLI_VERSION === 'string') return JOBGATE_CLI_VERSION
  for (const relative of ['./package.json', '../../cli/package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === '@jobgate/cli' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // not at this level; try the next one
    }
  }
  return '0.0.0'
}

export const userAgent = (): string => `jobgate-cli/${cliVersion()} node/${process.version}`
