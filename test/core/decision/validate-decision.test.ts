import t from 'tap'
import { validateDecision } from '../../../core/decision/validate-decision.js'

t.test('garbage is reported with paths, all problems at once', async (t) => {
  const r = validateDecision({
    kind: 'menu',
    items: [
      { id: 'a', text: 5, action: { kind: 'boot' } },
      { id: 'a', text: 'x', action: { kind: 'template', name: 't' } },
    ],
    default: 'zz',
    typo: 1,
  })
  t.notOk(r.ok)
  const problems = r.ok ? [] : r.problems
  for (const p of [
    '$.typo: unknown field',
    '$.items[0].text',
    '$.items[0].action.kernel: required',
    '$.items[1].id: duplicate id "a"',
    '$.items[1].action: a template is a whole script',
    '$.default: no item has id "zz"',
  ]) {
    t.ok(
      problems.some((x) => x.includes(p)),
      p,
    )
  }
  t.notOk(validateDecision('exit').ok)
  t.notOk(validateDecision({ kind: 'nonsense' }).ok)
  t.ok(validateDecision({ kind: 'exit' }).ok)
})
