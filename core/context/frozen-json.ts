/**
 * JSON text of frozen values, computed once per object: a context is serialized for the policy
 * runner's memo key and the worker, and again for the decision log; both read it from here. Only a
 * frozen object (build-context.ts deep-freezes contexts) cannot change under its cached text.
 */
const texts = new WeakMap<object, string>()

export function frozenJson(value: object): string {
  if (!Object.isFrozen(value)) return JSON.stringify(value)
  let text = texts.get(value)
  if (text === undefined) texts.set(value, (text = JSON.stringify(value)))
  return text
}
