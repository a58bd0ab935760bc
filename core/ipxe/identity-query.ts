/**
 * Query strings that bring a client back to /boot. Real iPXE decodes `%xx` before sending and
 * splits values on `&` and `=`, so every value that is not plain unreserved text travels as
 * `<name>_hex=41-42` (iPXE's own `${x:hexhyp}` form), which /boot decodes losslessly.
 * No `:` anywhere: iPXE 2019 parses a relative URL whose query holds a `:` as `scheme:rest`
 * (`/boot?mac=52` becomes the scheme), so the MAC goes hyphenated and hex with hyphens.
 */
import type { BootContext } from '../context/types.js'
import { macWithHyphens } from '../context/normalize-mac.js'
import { isUnreservedQueryValue, toHexSetting } from './script-builder.js'

/** The bootstrap's query: every identity variable iPXE has, text ones hex-encoded by iPXE itself. */
export const BOOTSTRAP_QUERY = [
  'mac=${mac:hexhyp}',
  'uuid=${uuid}',
  'buildarch=${buildarch}',
  'platform=${platform}',
  'ip=${ip}',
  'hostname_hex=${hostname:hexhyp}',
  'serial_hex=${serial:hexhyp}',
  'manufacturer_hex=${manufacturer:hexhyp}',
  'product_hex=${product:hexhyp}',
  'asset_hex=${asset:hexhyp}',
  'user-class_hex=${user-class:hexhyp}',
].join('&')

/** The same identity, rebuilt server-side from a context, plus extra parameters. */
export function identityQuery(ctx: BootContext, params: Readonly<Record<string, string>> = {}): string {
  const parts: string[] = []
  const add = (name: string, value: string | undefined): void => {
    if (value === undefined || value === '') return
    parts.push(isUnreservedQueryValue(value) ? `${name}=${value}` : `${name}_hex=${toHexSetting(value, '-')}`)
  }
  // mac, uuid, arch, ip are validated to safe characters; the rest may hold anything.
  if (ctx.mac) parts.push(`mac=${macWithHyphens(ctx.mac)}`)
  if (ctx.uuid) parts.push(`uuid=${ctx.uuid}`)
  if (ctx.buildarch) parts.push(`buildarch=${ctx.buildarch}`)
  if (ctx.platform) parts.push(`platform=${ctx.platform}`)
  if (!ctx.buildarch && ctx.arch !== 'unknown') parts.push(`arch=${ctx.arch}`)
  if (ctx.ip) parts.push(`ip=${ctx.ip}`)
  add('hostname', ctx.hostname)
  add('serial', ctx.serial)
  add('manufacturer', ctx.manufacturer)
  add('product', ctx.product)
  add('asset', ctx.asset)
  add('user-class', ctx.userClass)
  for (const [k, v] of Object.entries(params)) add(k, v)
  return parts.join('&')
}
