// `node scripts/cli-shrinkwrap.mjs`: writes cli/npm-shrinkwrap.json, the CLI package's dependency tree exactly as the
// repository's package-lock.json has it (the versions its bundle was built and tested with). npm honours a package's
// shrinkwrap when it installs the package, so an installed CLI gets those versions, never newer ones.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const read = path => JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8'))

/** Where Node finds package `name` from the package installed at `from` ('' = the project): the nearest node_modules up. */
function resolve (packages, from, name) {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const path = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`
    if (packages[path] !== undefined) return path
    if (dir === '') return undefined
  }
}

/** The shrinkwrap of `cli` (its package.json) out of `lock` (the repository's package-lock.json). */
export function shrinkwrapFor (lock, cli) {
  const packages = lock.packages
  const wanted = Object.entries(cli.dependencies ?? {})
  for (const [name, version] of wanted) {
    const installed = packages[`node_modules/${name}`]?.version
    if (installed !== version) throw new Error(`cli/package.json wants ${name} ${version}; the repository's lockfile has ${installed ?? 'none'}: pin the same version`)
  }
  const tree = {}
  const queue = wanted.map(([name]) => `node_modules/${name}`)
  while (queue.length > 0) {
    const path = queue.shift()
    if (tree[path] !== undefined) continue
    // Whether a package is a dev or peer dependency is the repository's matter, not the CLI's.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = packages[path]
    tree[path] = entry
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const found = resolve(packages, path, name)
      if (found === undefined && entry.optionalDependencies?.[name] === undefined) throw new Error(`${path} needs ${name}, which the lockfile does not have`)
      if (found !== undefined) queue.push(found)
    }
  }
  const { name, version, license, engines, bin, dependencies } = cli
  const sorted = Object.fromEntries(Object.keys(tree).sort().map(path => [path, tree[path]]))
  return { name, version, lockfileVersion: 3, requires: true, packages: { '': { name, version, license, dependencies, bin, engines }, ...sorted } }
}

export const expectedShrinkwrap = () => `${JSON.stringify(shrinkwrapFor(read('package-lock.json'), read('cli/package.json')), null, 2)}\n`

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../cli/npm-shrinkwrap.json', import.meta.url), expectedShrinkwrap())
  process.stdout.write('wrote cli/npm-shrinkwrap.json\n')
}
