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
  // A loaded host's serial console drops characters both ways: when the echo is not seen, output
  // that did arrive since the key means iPXE redrew the field (the key landed, its echo was
  // garbled; the next key's echo, or the login's outcome, shows the whole text); no output at all
  // means the key itself was lost, and it is typed again.
  const press = async (key: string, echo: RegExp): Promise<void> => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const after = Math.max(0, vm.log().length - 8)
      vm.process.write(key)
      try {
        await vm.waitFor(echo, 5_000, { failOn, after })
        return
      } catch (err) {
        const since = vm.log().slice(after)
        if (failOn.test(since) || vm.process.exitStatus() !== undefined) throw err
        if (since.length > 8 + 4) return
      }
    }
    throw new Error(`typeLogin: iPXE did not answer the key ${JSON.stringify(key)} three times (${echo})`)
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
