import t from 'tap'
import { Spectral, type RulesetDefinition } from '@stoplight/spectral-core'
import { oas } from '@stoplight/spectral-rulesets'
import { makeApp } from '../helpers'

// The management API's document as linters read it: Spectral's `spectral:oas` ruleset (what
// `spectral lint` applies to an OpenAPI document), every rule at its own severity.
t.test('spectral:oas finds nothing in /api/v1/openapi.json: 0 errors, 0 warnings', async (t) => {
  const app = await makeApp(t)
  const res = await app.inject({ url: '/api/v1/openapi.json' })
  t.equal(res.statusCode, 200)
  const spectral = new Spectral()
  spectral.setRuleset({ extends: [[oas as RulesetDefinition, 'recommended']] })
  const results = await spectral.run(res.body)
  const shown = results.map((r) => `${['error', 'warning', 'info', 'hint'][r.severity]} ${r.code}: ${r.message} (${r.path.join('.')})`)
  t.same(shown.filter((line) => line.startsWith('error') || line.startsWith('warning')), [], 'no errors, no warnings')
  t.comment(`${results.length} results in all${results.length > 0 ? `: ${shown.join('; ')}` : ''}`)
})
