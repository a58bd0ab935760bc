/**
 * Type into real iPXE's `login` form on the serial console, as a person would. One key at a time,
 * each after the echo of the one before (the 20-column field redraws as `abc_________________` /
 * `***_________________`): written in one burst, keys got lost here (one boot in two stopped after
 * 17 of 23 characters). Enter moves from the user name to the password; Enter there submits.
 * Keep both shorter than the field, so that every key's echo can be awaited.
 */
import type { QemuVm } from './qemu.js'
// The caller waits for the form (`Password:`) first.

export const LOGIN_FIELD = 20

export async function typeLogin(vm: QemuVm, username: string, password: string, failOn: RegExp): Promise<void> {
  if (username.length >= LOGIN_FIELD || password.length >= LOGIN_FIELD) throw new Error(`typeLogin: keep the user name and password under ${LOGIN_FIELD} characters`)
  const field = (shown: string): RegExp => new RegExp(`${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${'_'.repeat(LOGIN_FIELD - shown.length)}`)
  // Only what arrives after a key counts (an earlier form on the same console has the same echoes);
  // a few characters of slack: the cleaned log can shrink at its end while an escape is incomplete.
  const press = async (key: string, echo: RegExp): Promise<void> => {
    const after = Math.max(0, vm.log().length - 8)
    vm.process.write(key)
    await vm.waitFor(echo, 10_000, { failOn, after })
  }
  const type = async (text: string, echo: (typed: number) => string): Promise<void> => {
    for (let i = 1; i <= text.length; i++) await press(text[i - 1]!, field(echo(i)))
  }
  await type(username, (n) => username.slice(0, n))
  // The password field may not redraw on focus; its first key's echo is awaited instead.
  vm.process.write('\r')
  await type(password, (n) => '*'.repeat(n))
  vm.process.write('\r')
}
