/**
 * Compile-time tests of the types policy authors use: `tsc --noEmit` (run by `npm test`) fails if
 * a line marked @ts-expect-error stops being an error, i.e. if the API gets looser.
 */
import { boot, item, menu, exit, type BootContext, type Decision, type Policy } from 'bootpolicy/policy'

export const ok: Policy = (ctx: BootContext) => (ctx.arch === 'x86_64-efi' ? boot('/files/vmlinuz', { args: ['quiet'] }) : undefined)

export const menuOk: Decision = menu({ items: [item('a', 'A', exit())], default: 'a', timeoutMs: 1000 })

export const mutate: Policy = (ctx) => {
  // @ts-expect-error: the context is readonly
  ctx.mac = 'x'
  return undefined
}

// @ts-expect-error: policies never see a password
export const password: Policy = (ctx) => exit(ctx.auth.password)

// @ts-expect-error: arch is a closed vocabulary
export const badArch: Policy = (ctx) => (ctx.arch === 'x86-64' ? exit() : undefined)

// @ts-expect-error: a menu item needs an action
export const noAction = item('a', 'A')

// @ts-expect-error: args are a list, one argument per element
export const argsString = boot('/k', { args: 'quiet splash' })
