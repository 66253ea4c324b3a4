import { readFileSync } from 'node:fs'

/** The package version, read from package.json next to cli/ (source) or dist/cli/ (built). */
export function cliVersion (): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'jobgate' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // not at this level; try the next one
    }
  }
  return '0.0.0'
}

export const userAgent = (): string => `jobgate-cli/${cliVersion()} node/${process.version}`
