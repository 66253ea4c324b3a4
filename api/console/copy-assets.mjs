// Part of `npm run build`: the console's static files go next to the compiled plugin in dist/ (or the folder given).
import { cpSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const dist = process.argv[2] === undefined ? new URL('../../dist/', import.meta.url) : pathToFileURL(`${process.argv[2]}/`)
cpSync(new URL('./public/', import.meta.url), new URL('api/console/public/', dist), { recursive: true })
