// Preloaded (--require) by the startup bench only: on SIGWINCH (a signal close-with-grace does not end the server on, unlike SIGUSR2) the process writes the CPU time it has used so far
// (user + system, all threads, in µs) to fd 3. /proc/<pid>/stat counts in 10 ms ticks, too coarse for a ~100 ms start.
process.on('SIGWINCH', () => { const { user, system } = process.cpuUsage(); process.getBuiltinModule('node:fs').writeSync(3, `${user + system}\n`) })
