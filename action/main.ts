import { runAction } from './run-action.js'

// action.yml's runs.main (bundled to action/dist/index.mjs): the runner starts it with the step's inputs as INPUT_* variables.
process.exitCode = await runAction({ env: process.env, stdout: process.stdout })
