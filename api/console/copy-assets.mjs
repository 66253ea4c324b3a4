// Part of `npm run build`: the console's static files go next to the compiled plugin in dist/.
import { cpSync } from 'node:fs'

cpSync(new URL('./public/', import.meta.url), new URL('../../dist/api/console/public/', import.meta.url), { recursive: true })
