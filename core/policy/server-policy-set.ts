/**
 * The PolicySet the server runs: every version type-checked off the main thread before it goes
 * live (the same check as `bootpolicy check`), the last good versions kept under
 * `stateDir/policies/` for a restart while a policy is broken, and every reload's problems loud
 * in the log (BPWRN002 a broken file, BPWRN009 a policy serving an older revision, BPWRN010 a
 * broken policy with nothing to serve).
 */
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/config-types.js'
import type { ImportableModules } from './compile-policy.js'
import type { StateBackend } from '../state/state-backend.js'
import { LastGoodStore } from './last-good-store.js'
import { PolicySet, type PolicyHost } from './policy-set.js'
import { typeCheckOffThread } from './type-check-off-thread.js'

/** `readOnly` (explain): the last good versions are read, never written. */
export function serverPolicySet(config: Config, importables: ImportableModules, host: PolicyHost, logger: Logger, options: { readOnly?: boolean; state?: StateBackend } = {}): PolicySet {
  return new PolicySet(
    config.policies.dir,
    config.policies,
    importables,
    {
      onReload(revision, problems, stale, missing) {
        const kept = new Set(stale.map((s) => s.policy))
        for (const p of problems) {
          const err = { code: p.code, message: p.message }
          if (missing.includes(p.policy)) logger.warn({ code: 'BPWRN010', policy: p.policy, err }, 'BPWRN010 policy is broken and has no good revision; it is not serving')
          else logger.warn({ code: 'BPWRN002', policy: p.policy, err, lastGoodServing: kept.has(p.policy) }, 'BPWRN002 policy failed to load; the last good version keeps serving')
        }
        for (const s of stale) logger.warn({ code: 'BPWRN009', ...s }, 'BPWRN009 policy serves its last good revision')
        logger.info({ revision, problems: problems.length, stale: stale.length }, 'policies loaded')
      },
    },
    host,
    {
      typeCheck: typeCheckOffThread,
      // Replicas on PostgreSQL share the last good versions; one server keeps them under stateDir.
      lastGood: new LastGoodStore(join(config.stateDir, 'policies'), options.state?.kind === 'postgres' ? options.state : undefined),
      // serve drops to config.user after start-up and then releases the writes (serve-command.ts);
      // a read-only runtime never releases them.
      holdLastGoodWrites: options.readOnly === true || (Boolean(config.user && config.group) && process.getuid?.() === 0),
    },
  )
}
