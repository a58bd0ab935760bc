/**
 * The in-isolate call wrapper, evaluated in every policy isolate BEFORE the policy's own code.
 * isolated-vm copies a returned object and reads a thrown value's message/stack after the time
 * limit has stopped, on the calling thread: a getter, a Proxy or a looping `message` getter ran
 * unbounded there. So everything that touches policy values happens here, inside the isolate and
 * under its time limit, and only a string ever crosses out:
 *   'U'                       no decision (undefined or null)
 *   'R' + json                the decision, serialized by our own walker
 *   'G' + quoted reason       not plain data (function, symbol, class instance, cycle, too many values or characters)
 *   'E' + quoted message + '\n' + quoted stack   the policy threw (both capped)
 *   'F'                       the module's default export is not a function
 *   'S' + quoted field        the policy read a context field listed in ctx.unavailable (shared state unreachable)
 *   'X'                       last resort: something failed that cannot even be described
 * The policy's top-level code runs inside a try/catch too (loadedScript): what it throws is read
 * by 'bind' in here, never by isolated-vm on the host.
 * print() (bootpolicy/policy) reaches the wrapper's `__bootpolicy_print`: while a caller traces
 * (ops 'trace' … 'prints', for tests and explain) each call's values are serialized here, by the
 * same budgeted walker, into a bounded list of strings; otherwise it returns at once (production).
 * The intrinsics it uses are captured first, so a policy that patches JSON, Object, Array or
 * String prototypes can only make its own call fail. WebAssembly (its memory is not counted in
 * the isolate's memory limit), SharedArrayBuffer and Atomics are removed.
 */
import { GLOBAL_NAME } from './compile-policy.js'

export interface WrapperLimits {
  /** Values (objects, arrays and primitives) a result may contain. */
  readonly maxNodes: number
  /** Characters of the serialized result. */
  readonly maxBytes: number
  readonly maxMessage: number
  readonly maxStack: number
}

export const DECISION_LIMITS: WrapperLimits = { maxNodes: 10_000, maxBytes: 256 * 1024, maxMessage: 2000, maxStack: 4000 }
/** Policy test files export tables of cases: more room, same walker. */
export const DATA_LIMITS: WrapperLimits = { ...DECISION_LIMITS, maxNodes: 200_000, maxBytes: 16 * 1024 * 1024 }

/** print(): at most this many lines per call of the policy, each cut at this many characters. */
export const PRINT_LIMITS = { maxPrints: 50, maxChars: 1000, maxNodes: 1000 } as const

/** The in-isolate function print() (core/policy-api) calls. */
export const PRINT_GLOBAL = '__bootpolicy_print'

/** The in-isolate function the policy's top-level code hands what it threw to. */
export const LOAD_FAILED = '__bootpolicy_load_failed'

/**
 * The policy bundle as the script that loads it: its top-level code inside try/catch, so that
 * nothing it throws reaches isolated-vm (which would read the value's message and stack on the
 * host thread, with no time limit). Same first line, so stack lines still map; the script's
 * completion value is undefined. esbuild's bundle is balanced code: it cannot close the try.
 */
export function loadedScript(code: string): string {
  return `try {${code}\n} catch (e) { ${LOAD_FAILED}(e) }\nvoid 0;\n`
}

/** Source of an expression that evaluates to the wrapper `(op, arg) => string`. */
export function wrapperSource(limits: WrapperLimits): string {
  return `(() => {
  'use strict';
  const G = globalThis;
  const parse = JSON.parse, quote = JSON.stringify;
  const getProto = Object.getPrototypeOf, isArray = Array.isArray, apply = Reflect.apply, strSlice = String.prototype.slice, strIndexOf = String.prototype.indexOf;
  const ObjProto = Object.prototype, ArrProto = Array.prototype, TypeErr = TypeError, RangeErr = RangeError;
  const MAX_NODES = ${limits.maxNodes}, MAX_BYTES = ${limits.maxBytes};
  const MAX_MESSAGE = ${limits.maxMessage}, MAX_STACK = ${limits.maxStack};
  const MODULE = ${JSON.stringify(GLOBAL_NAME)};
  const defineProp = Object.defineProperty;
  const ProxyCtor = Proxy, reflectHas = Reflect.has, reflectOwnKeys = Reflect.ownKeys, reflectOwnDesc = Reflect.getOwnPropertyDescriptor;
  delete G.WebAssembly; delete G.SharedArrayBuffer; delete G.Atomics;
  G.console = { log() {}, info() {}, warn() {}, error() {}, debug() {} };
  // Promise rejections. isolated-vm reads an unhandled rejection's reason (message, stack) on the
  // host thread after the call, with no time limit, and no isolate time limit stops that read.
  // So every promise the policy can make rejects with a string, computed here under the limit:
  // the global Promise and Promise.prototype.constructor (which then() consults, through
  // Symbol.species, to build the promise it returns) are replaced by SafePromise, which builds
  // an intrinsic promise whose reject turns the reason into a string first. compile-policy.ts
  // lowers async functions to generators on the global Promise, so no policy code reaches the
  // intrinsic constructor, and no rejection carries an object.
  const P = G.Promise, PProto = P.prototype, construct = Reflect.construct;
  const pResolve = P.resolve, pAll = P.all, pAllSettled = P.allSettled, pAny = P.any, pRace = P.race;
  function rejection(r) {
    if (r === null || (typeof r !== 'object' && typeof r !== 'function')) return typeof r === 'symbol' ? 'a rejected promise (a symbol)' : r;
    const e = threw(r);
    const nl = apply(strIndexOf, e, ['\\n']);
    return 'a rejected promise: ' + parse(apply(strSlice, e, [1, nl]));
  }
  function SafePromise(executor) {
    if (typeof executor !== 'function') throw new TypeErr('Promise resolver is not a function');
    // An executor that throws would reject with the raw value: catch it here.
    return construct(P, [function (res, rej) {
      const safeRej = function (r) { return rej(rejection(r)); };
      try { executor(res, safeRej); } catch (e) { safeRej(e); }
    }]);
  }
  defineProp(SafePromise, 'prototype', { value: PProto, writable: false });
  defineProp(SafePromise, Symbol.species, { get() { return SafePromise; } });
  SafePromise.resolve = function (v) { return apply(pResolve, SafePromise, [v]); };
  SafePromise.reject = function (r) { return construct(P, [function (res, rej) { rej(rejection(r)); }]); };
  SafePromise.all = function (it) { return apply(pAll, SafePromise, [it]); };
  SafePromise.allSettled = function (it) { return apply(pAllSettled, SafePromise, [it]); };
  SafePromise.any = function (it) { return apply(pAny, SafePromise, [it]); };
  SafePromise.race = function (it) { return apply(pRace, SafePromise, [it]); };
  defineProp(PProto, 'constructor', { value: SafePromise, writable: false, configurable: false, enumerable: false });
  defineProp(G, 'Promise', { value: SafePromise, writable: false, configurable: false, enumerable: false });
  const REFUSED = {};
  let reason = '', nodes = 0, bytes = 0, fn, loadFailed = false, loadError;
  // The policy's top-level code runs inside try { … } catch (e) { LOAD_FAILED(e) } (loadedScript):
  // what it throws stays here and is read by 'bind', under the time limit. Not writable or
  // configurable, so the policy cannot replace it; calling it itself only fails its own load.
  defineProp(G, ${JSON.stringify(LOAD_FAILED)}, { value: function (e) { if (!loadFailed) { loadFailed = true; loadError = e; } }, writable: false, configurable: false, enumerable: false });

  // print(): off unless a caller traces. Its own counters, so a print from inside a getter that
  // the decision's serialization runs cannot reset that budget; a print inside a print is ignored.
  const MAX_PRINTS = ${PRINT_LIMITS.maxPrints}, PRINT_CHARS = ${PRINT_LIMITS.maxChars}, PRINT_NODES = ${PRINT_LIMITS.maxNodes};
  let tracing = false, printing = false, prints = [], printsDropped = 0, pnodes = 0, pbytes = 0;
  const PRINT_REFUSED = {};
  function pcheck(key, v) {
    if (++pnodes > PRINT_NODES || (pbytes += key.length + 8 + (typeof v === 'string' ? v.length : 0)) > PRINT_CHARS) throw PRINT_REFUSED;
    const t = typeof v;
    if (t === 'function') return '[function]';
    if (t === 'symbol') return '[symbol]';
    if (t === 'bigint') return '[bigint]';
    return v;
  }
  function printOne(v) {
    const t = typeof v;
    if (t === 'string') return v;
    if (v === undefined) return 'undefined';
    if (t === 'function') return '[function]';
    if (t === 'symbol') return '[symbol]';
    if (t === 'bigint') return '[bigint]';
    pnodes = 0; pbytes = 0;
    try {
      const json = quote(v, pcheck);
      return typeof json === 'string' ? json : '[unprintable]';
    } catch (e) {
      if (e === PRINT_REFUSED) return '[too large to print]';
      if (e instanceof TypeErr) return '[a cycle, or a value JSON cannot hold]';
      if (e instanceof RangeErr) return '[nesting too deep]';
      return '[unprintable: its getter or toJSON threw]';
    }
  }
  // defineProperty and a hand-built JSON array: setters or toJSON the policy put on Array.prototype never run.
  function keep(line) { defineProp(prints, prints.length, { value: line, writable: true, enumerable: true, configurable: true }); }
  defineProp(G, ${JSON.stringify(PRINT_GLOBAL)}, { value: function () {
    if (!tracing || printing) return;
    if (prints.length >= MAX_PRINTS) { printsDropped++; return; }
    printing = true;
    try {
      let line = '';
      const n = arguments.length;
      for (let i = 0; i < n && line.length <= PRINT_CHARS; i++) line += (i ? ' ' : '') + printOne(arguments[i]);
      keep(cut(line, PRINT_CHARS));
    } catch (e) {
      keep('[unprintable]');
    } finally { printing = false; }
  }, writable: false, configurable: false, enumerable: false });

  function refuse(why) { reason = why; throw REFUSED; }
  function cut(s, n) { return s.length > n ? apply(strSlice, s, [0, n]) + '…' : s; }

  // Called by the captured JSON.stringify for every value: the budget counts values as they are
  // visited, so a DAG of shared sub-objects is refused long before it is expanded. Getters and
  // toJSON methods run here too, inside the isolate and under its time limit.
  function check(key, v) {
    if (++nodes > MAX_NODES) refuse('more than ' + MAX_NODES + ' values');
    bytes += key.length + 8;
    const t = typeof v;
    if (t === 'string') bytes += v.length;
    else if (t === 'object') {
      if (v !== null) {
        const proto = getProto(v);
        if (isArray(v) ? proto !== ArrProto : proto !== ObjProto && proto !== null) refuse('a class instance');
      }
    } else if (t !== 'number' && t !== 'boolean' && t !== 'undefined') refuse('a ' + t);
    if (bytes > MAX_BYTES) refuse('more than ' + MAX_BYTES + ' characters');
    return v;
  }

  function ser(r) {
    const json = quote(r, check);
    if (typeof json !== 'string') refuse('a value with no JSON form');
    if (json.length > MAX_BYTES) refuse('more than ' + MAX_BYTES + ' characters');
    return json;
  }

  function threw(e) {
    let message = '', trace = '';
    try {
      if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
        const m = e.message;
        message = typeof m === 'string' ? m : m === undefined ? 'a thrown ' + (isArray(e) ? 'array' : 'object') : '' + m;
        const s = e.stack;
        if (typeof s === 'string') {
          // The frames (for file:line), not a copy of a long message: start at the first frame.
          const at = apply(strIndexOf, s, ['\\n    at ']);
          trace = at >= 0 ? apply(strSlice, s, [at]) : s;
        }
      } else {
        message = '' + e;
      }
    } catch (e2) {
      message = message || 'a thrown value that cannot be read';
    }
    return 'E' + quote(cut(message, MAX_MESSAGE)) + '\\n' + quote(cut(trace, MAX_STACK));
  }

  function out(r) {
    if (r === undefined || r === null) return 'U';
    nodes = 0; bytes = 0;
    try { return 'R' + ser(r); }
    catch (e) {
      if (e === REFUSED) return 'G' + quote(reason);
      // JSON.stringify's own errors: a cycle (TypeError), nesting deeper than the stack (RangeError).
      if (e instanceof TypeErr) return 'G' + quote('a cycle, or a value JSON cannot hold');
      if (e instanceof RangeErr) return 'G' + quote('nesting too deep');
      return threw(e);
    }
  }

  return function call(op, arg) {
    try {
      if (op === 'run') {
        const ctx = parse(arg);
        // Fields the host could not read (ctx.unavailable): reading one marks the call, whatever the
        // policy does with the throw, and the call answers 'S': no decision made without them.
        const missing = ctx.unavailable;
        let touched = '';
        if (isArray(missing)) for (let i = 0; i < missing.length; i++) {
          const name = missing[i];
          if (typeof name !== 'string') continue;
          defineProp(ctx, name, { get() { touched = name; throw new Error('ctx.' + name + ' is unavailable: the shared state cannot be reached'); }, enumerable: true, configurable: false });
        }
        // Asking whether an unavailable field is there ('intent' in ctx, hasOwnProperty,
        // Object.keys) is deciding on it too: such a call is marked as a read would be.
        let view = ctx;
        if (isArray(missing) && missing.length > 0) {
          const isMissing = (key) => { for (let i = 0; i < missing.length; i++) if (missing[i] === key) return true; return false; };
          view = new ProxyCtor(ctx, {
            has(target, key) { if (isMissing(key)) touched = key; return reflectHas(target, key); },
            getOwnPropertyDescriptor(target, key) { if (isMissing(key)) touched = key; return reflectOwnDesc(target, key); },
            ownKeys(target) { const keys = reflectOwnKeys(target); for (let i = 0; i < keys.length; i++) if (isMissing(keys[i])) touched = keys[i]; return keys; },
          });
        }
        let r;
        try { r = fn(view); } catch (e) { return touched ? 'S' + quote(touched) : threw(e); }
        const o = out(r);
        return touched ? 'S' + quote(touched) : o;
      }
      // A time limit stops a call without running its finally blocks: state is reset here, not there.
      if (op === 'trace') { tracing = true; printing = false; prints = []; printsDropped = 0; return 'U'; }
      if (op === 'prints') {
        tracing = false; printing = false;
        if (printsDropped > 0) keep('… ' + printsDropped + ' more print() calls dropped (at most ' + MAX_PRINTS + ' per call)');
        let json = '[';
        for (let i = 0; i < prints.length; i++) json += (i ? ',' : '') + quote(prints[i]);
        prints = []; printsDropped = 0;
        return json + ']';
      }
      if (op === 'bind') {
        if (loadFailed) return threw(loadError);
        try {
          const m = G[MODULE];
          const f = m && (m.default !== undefined ? m.default : m);
          if (typeof f !== 'function') return 'F';
          fn = f;
          return 'U';
        } catch (e) { return threw(e); }
      }
      if (op === 'export') {
        let v;
        try { v = G[MODULE][arg]; } catch (e) { return threw(e); }
        return out(v);
      }
      return 'X';
    } catch (e) {
      return 'X';
    }
  };
})()`
}
