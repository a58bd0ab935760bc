/** Fixture trees of SmartOS platform builds, as unpacked from platform-<build>.tgz (small files). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const HASH = '$5$rounds=5000$s4ltS4lt$Xk2vQw9Lr8m3N7pT1yZb0cD5eF6gH4iJ2kL8mN0pQr7'

export function addBuild(root: string, build: string, platformDir = 'platform'): void {
  mkdirSync(join(root, build, platformDir, 'i86pc', 'kernel', 'amd64'), { recursive: true })
  mkdirSync(join(root, build, platformDir, 'i86pc', 'amd64'), { recursive: true })
  writeFileSync(join(root, build, platformDir, 'i86pc', 'kernel', 'amd64', 'unix'), `unix ${build}\n`)
  writeFileSync(join(root, build, platformDir, 'i86pc', 'amd64', 'boot_archive'), `archive ${build}\n`)
}

/** Two complete builds, one unpacked without the rename to platform/, one without its archive, one stray folder. */
export function smartosTree(): { root: string; remove(): void } {
  const base = mkdtempSync(join(tmpdir(), 'bp-smartos-'))
  const root = join(base, 'smartos')
  mkdirSync(root)
  addBuild(root, '20130405T010449Z')
  addBuild(root, '20130808T195337Z')
  addBuild(root, '20121004T212912Z', 'platform-20121004T212912Z')
  addBuild(root, '20120101T000000Z')
  rmSync(join(root, '20120101T000000Z', 'platform', 'i86pc', 'amd64', 'boot_archive'))
  mkdirSync(join(root, 'latest'))
  writeFileSync(join(root, 'README'), 'not a build\n')
  return { root, remove: () => rmSync(base, { recursive: true, force: true }) }
}
