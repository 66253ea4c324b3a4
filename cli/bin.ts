import { run } from './main.js'

// The `jobgate` executable: the installed package's bin, the single-file build, the repository's bin/jobgate.js.
process.exitCode = await run(process.argv.slice(2))
