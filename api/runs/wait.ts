/** Longest `?wait=` a read may ask for; the hold itself is the run watcher's (api/live/). */
export const MAX_WAIT_SECONDS = 60
