/**
 * Deep freezing that remembers what it froze: a value whose JSON text can never change (plain
 * objects and arrays of data, all frozen here) is "sealed", and only sealed values have their text
 * memoized (frozen-json.ts, decision-line.ts). Object.isFrozen is not enough: it says nothing of
 * the inner values of an object somebody else froze, of a Date's time (setTime works on a frozen
 * Date), or of a getter's next result.
 */
const sealed = new WeakSet<object>()

/** Freezes `value` and everything in it, descending into already-frozen objects too. */
export function deepFreeze<T>(value: T): T {
  // Already sealed (a memoized response's parts on every hit): no walk, no Set.
  if (value !== null && typeof value === 'object' && sealed.has(value)) return value
  seal(value, new Set())
  return value
}

/** True when `value` was sealed by deepFreeze: frozen throughout and plain data only. */
export function isSealed(value: object): boolean {
  return sealed.has(value)
}

/** Freezes `value` deeply; true when its JSON text is fixed for good. */
function seal(value: unknown, visiting: Set<object>): boolean {
  if (typeof value === 'function') return false // a toJSON, or a value JSON leaves out: not memoized
  if (value === null || typeof value !== 'object') return true
  if (sealed.has(value) || visiting.has(value)) return true
  visiting.add(value)
  Object.freeze(value)
  const proto = Object.getPrototypeOf(value) as unknown
  let fixed = proto === null || proto === Object.prototype || (proto === Array.prototype && Array.isArray(value))
  for (const key of Reflect.ownKeys(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key)
    if (d && 'value' in d) {
      if (!seal(d.value, visiting)) fixed = false
    } else {
      fixed = false // a getter: its next result is unknown (and it is not called here)
    }
  }
  visiting.delete(value)
  if (fixed) sealed.add(value)
  return fixed
}

/**
 * For builders that freeze their own plain data part by part (build-context.ts, on every /boot
 * request): marks each value, already frozen and holding only strings and values marked here, as
 * sealed without walking it again.
 */
export function markSealed(...values: object[]): void {
  for (const v of values) if (Object.isFrozen(v)) sealed.add(v)
}
