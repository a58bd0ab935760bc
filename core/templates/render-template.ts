/**
 * Renders a parsed template (parse-template.ts) with data, through the same iPXE escaping as
 * decisions: `IpxeScript.arg` for argument values (whitespace, control characters and `${` are
 * refused, anything else iPXE would interpret goes through a hex setting), `IpxeScript.text` for
 * display text, percent-encoding for URL components. The hex settings (`set bpvN:hex …`) are
 * written right after the `#!ipxe` line, before any line that uses them.
 * Values are looked up as own properties of plain data only, are never parsed again (a value
 * holding `{{` or `<%` is just text), and rendering is bounded: 256 KiB of output, 10,000 steps (about 2 ms).
 */
import { CMDLINE_COMMANDS, IpxeScript } from '../ipxe/script-builder.js'
import type { TemplateNode } from './parse-template.js'

export const MAX_OUTPUT_BYTES = 256 * 1024
// A step is a node visited or a section pass; a 500-item menu needs about 5,000.
export const MAX_RENDER_STEPS = 10_000

/** A value written as it is: only bootpolicy creates these (the request id reference). */
export class TrustedText {
  constructor(readonly text: string) {}
}

/** A render problem at a template line; `unsafe` when a value could not be placed safely. */
export class TemplateRenderError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly unsafe = false,
  ) {
    super(`line ${line}: ${reason}`)
    this.name = 'TemplateRenderError'
  }
}

interface RenderState {
  readonly script: IpxeScript
  readonly parts: string[]
  size: number
  steps: number
}

export function renderTemplate(nodes: readonly TemplateNode[], data: unknown): string {
  const state: RenderState = { script: new IpxeScript(), parts: [], size: 0, steps: 0 }
  renderNodes(nodes, [data], state)
  let body = state.parts.join('')
  if (!body.startsWith('#!ipxe')) body = `#!ipxe\n${body}`
  const nl = body.indexOf('\n')
  const head = nl < 0 ? `${body}\n` : body.slice(0, nl + 1)
  const rest = nl < 0 ? '' : body.slice(nl + 1)
  // IpxeScript's text is `#!ipxe` followed by the hex settings the values needed.
  const settings = state.script.toString().slice('#!ipxe\n'.length)
  const out = `${head}${settings}${rest}`
  if (Buffer.byteLength(out, 'utf8') > MAX_OUTPUT_BYTES) throw tooBig(1)
  return out
}

function step(state: RenderState, line: number): void {
  if (++state.steps > MAX_RENDER_STEPS) throw new TemplateRenderError(line, `rendering takes more than ${MAX_RENDER_STEPS} steps`)
}

function renderNodes(nodes: readonly TemplateNode[], stack: unknown[], state: RenderState): void {
  for (const node of nodes) {
    step(state, node.line)
    if (node.type === 'text') {
      emit(state, node.text, node.line)
    } else if (node.type === 'value') {
      emit(state, valueText(node, lookup(stack, node.path), state), node.line)
    } else {
      const value = lookup(stack, node.path)
      const items = Array.isArray(value) ? value : truthy(value) ? [value] : []
      if (node.inverted) {
        if (items.length === 0) renderNodes(node.children, stack, state)
        continue
      }
      // Every pass counts, even over an empty body: nested sections multiply.
      for (const item of items) {
        step(state, node.line)
        stack.push(item)
        try {
          renderNodes(node.children, stack, state)
        } finally {
          stack.pop()
        }
      }
    }
  }
}

function emit(state: RenderState, text: string, line: number): void {
  state.size += text.length
  if (state.size > MAX_OUTPUT_BYTES) throw tooBig(line)
  state.parts.push(text)
}

function valueText(node: Extract<TemplateNode, { type: 'value' }>, value: unknown, state: RenderState): string {
  if (value instanceof TrustedText) return value.text
  if (value === undefined || value === null) throw new TemplateRenderError(node.line, `no value for {{ ${node.name} }}`)
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TemplateRenderError(node.line, `{{ ${node.name} }} is ${Array.isArray(value) ? 'an array' : 'an object'}, not a text value (use a {{# section }})`)
  }
  const s = String(value)
  // A value may grow threefold (hex setting or percent-encoding): refuse before building it.
  const grown = Buffer.byteLength(s, 'utf8') * 3 + 24
  if (state.size + grown > MAX_OUTPUT_BYTES) throw tooBig(node.line)
  // iPXE expands a value before it parses options, and a template line is not built by command(),
  // so nothing puts `--` in front: a first positional starting with `-` is refused. On a kernel
  // command line a value is always an argument (display text there would add kernel arguments), and
  // `"` or a bare `--` would make Linux join or drop the arguments after it.
  if (node.form !== 'url') {
    const onCmdline = CMDLINE_COMMANDS.has(node.command)
    const refusal =
      node.firstPositional && s.startsWith('-')
        ? "starts with '-', which iPXE would read as an option"
        : onCmdline && s.includes('"')
          ? 'holds ", which makes Linux join the kernel arguments after it'
          : onCmdline && s === '--'
            ? 'is --, which makes Linux hand the following kernel arguments to init'
            : undefined
    if (refusal) throw new TemplateRenderError(node.line, `{{ ${node.name} }} ${refusal}`, true)
  }
  try {
    if (node.form === 'url') return urlComponent(s)
    const asArg = node.form === 'arg' || CMDLINE_COMMANDS.has(node.command)
    const piece = asArg ? state.script.arg(`{{ ${node.name} }}`, s) : state.script.text(s)
    if (piece !== s) state.size += grown
    return piece
  } catch (err) {
    // BP_ERR_RENDER_UNSAFE_VALUE from the escaping core (or a lone surrogate): keep the reason, add the line.
    const reason = (err as { params?: { reason?: string } }).params?.reason ?? 'cannot be encoded'
    throw new TemplateRenderError(node.line, `{{ ${node.name} }} ${reason}`, true)
  }
}

/** Own properties of plain objects and arrays only: no prototype, getter-free data. */
function lookup(stack: readonly unknown[], path: readonly string[]): unknown {
  if (path.length === 0) return stack[stack.length - 1]
  const [first, ...rest] = path as [string, ...string[]]
  let value: unknown
  let found = false
  for (let i = stack.length - 1; i >= 0 && !found; i--) {
    const frame = stack[i]
    if (isContainer(frame) && Object.hasOwn(frame, first)) {
      value = ownValue(frame, first)
      found = true
    }
  }
  for (const key of rest) {
    if (!isContainer(value) || !Object.hasOwn(value, key)) return undefined
    value = ownValue(value, key)
  }
  return value
}

function isContainer(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !(v instanceof TrustedText)
}

/** A data property's value; an accessor is not data and is not called. */
function ownValue(obj: Record<string, unknown>, key: string): unknown {
  const d = Object.getOwnPropertyDescriptor(obj, key)
  return d && 'value' in d ? d.value : undefined
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0
  return Boolean(v)
}

/** A URL component, percent-encoded: only `A-Z a-z 0-9 - _ . ~` stay as they are. */
function urlComponent(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function tooBig(line: number): TemplateRenderError {
  return new TemplateRenderError(line, `output is larger than ${MAX_OUTPUT_BYTES / 1024} KiB`)
}
