import t from 'tap'
import { build } from '../helper.js'

t.test('/docs is answered by the docs app built at the first request: its pages, redirects and 404s as the API answers them', async t => {
  const { app } = await build(t)
  const [first, second] = await Promise.all([app.inject('/openapi.json'), app.inject('/openapi.json')])
  t.equal(first.statusCode, 200)
  t.equal(first.body, second.body, 'concurrent first requests share one document')
  const redirect = await app.inject('/docs/static/index.html')
  t.equal(redirect.statusCode, 302)
  t.equal(redirect.headers.location, '/docs/')
  t.equal(redirect.headers['content-type'], undefined, 'an empty answer stays without a body type')
  const css = await app.inject({ method: 'HEAD', url: '/docs/static/swagger-ui.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /text\/css/)
  const missing = await app.inject('/docs/nothing-here')
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { error: { code: 404, status: 'NOT_FOUND' } }, 'in the contract\'s error shape')
})

t.test('issue 23: /docs (the console\'s origin) carries a CSP and may not be framed', async t => {
  const { app } = await build(t)
  for (const url of ['/docs', '/docs/', '/docs/static/index.html', '/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js']) {
    const response = await app.inject(url)
    t.match(response.headers['content-security-policy'], /(^|; )frame-ancestors 'none'(;|$)/, `${url}: frame-ancestors 'none'`)
    t.match(response.headers['content-security-policy'], /(^|; )script-src 'self'(;|$)/, `${url}: no inline or foreign script`)
  }
})
