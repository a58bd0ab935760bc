/**
 * JSON text of frozen values, computed once per object: a context is serialized for the policy
 * runner's memo key and the worker, and again for the decision log; both read it from here. Only a
 * value deepFreeze sealed (deep-freeze.ts) cannot change under its cached text.
 */
import { isSealed } from './deep-freeze.js'

const texts = new WeakMap<object, string>()

export function frozenJson(value: object): string {
  if (!isSealed(value)) return JSON.stringify(value)
  let text = texts.get(value)
  if (text === undefined) texts.set(value, (text = JSON.stringify(value)))
  return text
}
