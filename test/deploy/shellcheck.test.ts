import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from './stubs.js'

const scripts = ['build-deploy-api.sh', 'build-deploy-job.sh', 'build-deploy-common.sh', 'test/deploy/stub-tool.sh']

t.test('shellcheck passes on the deploy scripts', async t => {
  const version = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' })
  if (version.error !== undefined || version.status !== 0) {
    t.fail('shellcheck is not installed: run `apt-get install -y shellcheck` (.ci/run installs it when missing)')
    return
  }
  // -x follows `source build-deploy-common.sh`, so the shared helpers are checked in context.
  const result = spawnSync('shellcheck', ['-x', '--severity=style', ...scripts], { cwd: repoRoot, encoding: 'utf8' })
  t.equal(result.status, 0, 'no findings', { findings: result.stdout + result.stderr })
})

t.test('the two scripts run on their own, in strict mode', async t => {
  for (const script of ['build-deploy-api.sh', 'build-deploy-job.sh']) {
    const lines = readFileSync(join(repoRoot, script), 'utf8').split('\n')
    t.equal(lines[0], '#!/usr/bin/env bash', `${script}: bash shebang`)
    t.ok(lines.includes('set -euo pipefail'), `${script}: set -euo pipefail`)
    t.ok((statSync(join(repoRoot, script)).mode & 0o111) !== 0, `${script}: executable`)
  }
})
