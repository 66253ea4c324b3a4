import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

/** Debian's chromium package (what .ci/run installs), or CHROMIUM_PATH: nothing is downloaded. */
export function findChromium (): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']
    .find((path): path is string => path !== undefined && path !== '' && existsSync(path))
}

/** Quiet flags: no sandbox (containers), no GPU, and none of the browser's own calls home. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** A headless Chromium with a fresh profile, closed and removed at teardown. */
export async function launchChromium (
  t: { teardown: (fn: () => Promise<void> | void) => void },
  executablePath: string
): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'jobgate-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: FLAGS,
    viewport: { width: 1200, height: 900 }
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}
