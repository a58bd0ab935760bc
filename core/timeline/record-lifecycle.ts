/**
 * Timeline events of intent changes and installer callbacks (core/lifecycle's subscribe), and the
 * install tracking stuck detection uses: a token issued starts the installer boot, a callback or
 * the intent's end stops it. Never the token: records hold its hash and this keeps none of it.
 */
import type { IntentRecord, LifecycleEvent, MachineKey } from '../lifecycle/intent-types.js'
import type { Timeline, Who } from './timeline.js'

export function recordLifecycle(timeline: Timeline, e: LifecycleEvent): void {
  if (e.type === 'callback-refused') {
    timeline.record(whoOf(timeline, { by: e.mac ? 'mac' : 'uuid', value: e.mac ?? e.uuid ?? '' }), 'callback', 'refused', { outcome: e.outcome })
    return
  }
  const intent = e.intent
  const who = e.type === 'token-issued' && e.intent.token?.mac ? { mac: e.intent.token.mac } : whoOf(timeline, intent.machine)
  const base = { intent: intent.id, machine: `${intent.machine.by}:${intent.machine.value}`, target: targetText(intent) }
  switch (e.type) {
    case 'armed':
      timeline.record(who, 'intent', 'armed', { ...base, setBy: intent.setBy, expiresAt: new Date(intent.expiresAt).toISOString() }, (s) => {
        s.intent = { id: intent.id, state: 'armed' }
      })
      return
    case 'token-issued':
      timeline.record(who, 'intent', 'installer-boot', { ...base, tokensIssued: intent.tokensIssued }, (s) => {
        s.intent = { id: intent.id, state: intent.state }
        s.installStartedAt = timeline.time()
        if ('profile' in intent.target) s.installProfile = intent.target.profile
        else delete s.installProfile
        s.stuck = false
      })
      return
    case 'failed':
      timeline.record(who, 'callback', 'failed', { ...base, reason: intent.failure?.reason }, (s) => {
        s.intent = { id: intent.id, state: 'failed' }
        s.outcome = 'failed'
        delete s.installStartedAt
        delete s.installProfile
        s.stuck = false
      })
      return
    case 'ended': {
      const ended = e.intent
      const type = ended.outcome === 'built' ? 'built' : `intent-${ended.outcome}`
      timeline.record(who, ended.outcome === 'built' ? 'callback' : 'intent', type, { ...base, reason: ended.reason, endedBy: ended.endedBy }, (s) => {
        delete s.intent
        delete s.installStartedAt
        delete s.installProfile
        s.stuck = false
        if (ended.outcome === 'built') s.outcome = 'built'
      })
      return
    }
  }
}

function targetText(intent: Pick<IntentRecord, 'target'>): string {
  return 'profile' in intent.target ? `profile:${intent.target.profile}` : `decision:${intent.target.decision.kind}`
}

/** An intent's machine as the timeline knows it: its MAC, or the machine seen with that UUID or hostname. */
function whoOf(timeline: Timeline, key: MachineKey): Who {
  if (key.by === 'mac') return { mac: key.value }
  const id = timeline.findBy(key.by === 'uuid' ? 'uuid' : 'hostname', key.value)
  return id && !id.startsWith('ip:') ? { mac: id } : { ip: `${key.by}:${key.value}` }
}
