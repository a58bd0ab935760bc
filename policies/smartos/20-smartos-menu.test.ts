import { cases } from 'bootpolicy/policy'

// Test cases run without plugin hooks, so ctx.plugins.smartos is absent here: the policy must pass.
// The menu itself is tested with real builds in plugins/smartos/test/scenario-policy.test.ts.
export default cases([
  { name: 'no builds known: no decision, the next policy or the default answers', request: { mac: '52:54:00:12:34:56' }, expect: null },
  { name: 'a client that sent nothing: no decision either', request: {}, expect: null },
])
