import t from 'tap'
import { spawnSync } from 'node:child_process'
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
