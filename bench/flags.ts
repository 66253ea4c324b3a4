/** The flags `npm run bench -- …` takes (bench/run.ts parses with them; the doc test checks the docs against them). */
export const benchFlags = {
  only: { type: 'string' },
  samples: { type: 'string' },
  'load-seconds': { type: 'string' },
  'soak-seconds': { type: 'string' },
  quick: { type: 'boolean', default: false },
  compare: { type: 'string' }
} as const
