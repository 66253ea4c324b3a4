import t from 'tap'
import fc from 'fast-check'
import { principalMatches } from '../../api/auth/index.js'

const CI = '*@ci-project.iam.gserviceaccount.com'

const table: Array<[patterns: string[], name: string, expected: boolean]> = [
  [[], 'ci', false],
  [['*'], 'anyone at all', true],
  [['*'], 'anonymous', true],
  [['ci'], 'ci', true],
  [['ci'], 'CI', false],
  [['ci'], 'ci2', false],
  [['ops', 'ci'], 'ci', true],
  [['ci*'], 'ci-2', false],
  [['deploy@ci-project.iam.gserviceaccount.com'], 'deploy@ci-project.iam.gserviceaccount.com', true],
  [['deploy@ci-project.iam.gserviceaccount.com'], 'deploy@CI-Project.IAM.gserviceaccount.com', true],
  [['deploy@ci-project.iam.gserviceaccount.com'], 'Deploy@ci-project.iam.gserviceaccount.com', false],
  [[CI], 'deploy@ci-project.iam.gserviceaccount.com', true],
  [[CI], 'deploy@CI-PROJECT.iam.gserviceaccount.com', true],
  [[CI], 'x@evil.com', false],
  [[CI], 'a@b@ci-project.iam.gserviceaccount.com', false],
  [[CI], '@ci-project.iam.gserviceaccount.com', false],
  [[CI], 'deploy@ci-project.iam.gserviceaccount.com.evil.com', false],
  [[CI], 'deploy@evil-ci-project.iam.gserviceaccount.com', false],
  [[CI], 'deploy@xci-project.iam.gserviceaccount.com', false],
  [[CI], 'ci-project.iam.gserviceaccount.com', false],
  [[CI], 'deploy@ci-project\u212Aiam.gserviceaccount.com', false],
  [['*@k.example'], 'a@\u212A.example', false],
  [[CI], '*@ci-project.iam.gserviceaccount.com', true],
  [['deploy-*@p.iam.gserviceaccount.com'], 'deploy-prod@p.iam.gserviceaccount.com', true],
  [['deploy-*@p.iam.gserviceaccount.com'], 'deploy-@p.iam.gserviceaccount.com', true],
  [['deploy-*@p.iam.gserviceaccount.com'], 'build-prod@p.iam.gserviceaccount.com', false],
  [['*-ci-*@p.example'], 'a-ci-b@p.example', true],
  [['*-ci-*@p.example'], 'a-cx-b@p.example', false],
  [['a*b*c@p.example'], 'aXbYbZc@p.example', true],
  [['a*b*c@p.example'], 'aXbYbZcd@p.example', false],
  [['a*@p.example'], 'ba@p.example', false],
  [['.*@p.example'], 'x@p.example', false],
  [['.+@p.example'], 'aaa@p.example', false],
  [['(a|b)@p.example'], 'a@p.example', false],
  [['[a-z]@p.example'], 'q@p.example', false],
  [['a.c@p.example'], 'abc@p.example', false],
  [['*@p.exampl?'], 'x@p.example', false],
  [['*@*.example'], 'x@p.example', false],
  [['*@'], 'x@', false],
  [['@p.example'], '@p.example', true]
]

t.test('allow-list table', async t => {
  for (const [patterns, name, expected] of table) {
    t.equal(principalMatches(patterns, name), expected, `${JSON.stringify(patterns)} ∋ ${JSON.stringify(name)}`)
  }
})

const localPart = fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }).filter(s => !s.includes('@'))
const domain = fc.domain()

t.test('property: any local part matches the wildcard for its own domain, in any ASCII case', async t => {
  fc.assert(fc.property(localPart, fc.boolean(), (local, shout) => {
    const suffix = shout ? 'CI-PROJECT.IAM.GSERVICEACCOUNT.COM' : 'ci-project.iam.gserviceaccount.com'
    return principalMatches([CI], `${local}@${suffix}`)
  }), { numRuns: 2000 })
  t.pass('property held')
})

t.test('property: never for another domain, and never with a second @', async t => {
  fc.assert(fc.property(localPart, domain, localPart, (local, other, extra) => {
    const sameDomain = other.toLowerCase() === 'ci-project.iam.gserviceaccount.com'
    return principalMatches([CI], `${local}@${other}`) === sameDomain &&
      !principalMatches([CI], `${local}@${extra}@ci-project.iam.gserviceaccount.com`) &&
      !principalMatches([CI], `${local}@ci-project.iam.gserviceaccount.com.${other}`)
  }), { numRuns: 2000 })
  t.pass('property held')
})

t.test('property: a pattern without * matches only itself (regex characters are literal)', async t => {
  const text = fc.string({ maxLength: 20, unit: fc.constantFrom('a', 'b', '.', '+', '?', '(', ')', '[', ']', '|', '^', '$', '\\', '{', '}') })
  fc.assert(fc.property(text, text, (local, name) => {
    return principalMatches([`${local}@p.example`], `${name}@p.example`) === (local === name)
  }), { numRuns: 2000 })
  t.pass('property held')
})
