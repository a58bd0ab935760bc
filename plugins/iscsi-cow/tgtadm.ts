/**
 * A client for tgtd's admin tool. Every call is one `tgtadm --lld iscsi …` argument array;
 * `show` output is parsed into targets (tid, name, sessions and connections, LUNs with their
 * backing store, bound accounts, ACL) and the account list.
 * The one exception is account creation: tgtadm takes a CHAP secret only as `--password` (seen
 * in /proc/<pid>/cmdline and in sudo's auth.log), so new accounts go through account-channel.ts
 * (tgtd's socket, or the helper's stdin) and the secret is never an argument.
 */
import { accountChannel, type AccountCreator } from './account-channel.js'
import { commandDetails, type Runner } from './exec.js'

export interface TgtSession {
  readonly sid: number
  readonly initiator?: string
  readonly cids: readonly number[]
}

export interface TgtLun {
  readonly lun: number
  readonly type: string
  readonly backingStore?: string
}

export interface TgtTarget {
  readonly tid: number
  readonly name: string
  readonly sessions: readonly TgtSession[]
  readonly luns: readonly TgtLun[]
  readonly accounts: readonly string[]
  readonly acl: readonly string[]
}

export function parseTargets(text: string): TgtTarget[] {
  const targets: {
    tid: number
    name: string
    sessions: { sid: number; initiator?: string; cids: number[] }[]
    luns: { lun: number; type: string; backingStore?: string }[]
    accounts: string[]
    acl: string[]
  }[] = []
  let section = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const target = /^Target (\d+): (\S+)$/.exec(raw)
    if (target) {
      targets.push({ tid: Number(target[1]), name: target[2]!, sessions: [], luns: [], accounts: [], acl: [] })
      section = ''
      continue
    }
    const t = targets.at(-1)
    if (!t) continue
    const header = /^(System|I_T nexus|LUN|Account|ACL) information:$/.exec(line)
    if (header) {
      section = header[1]!
      continue
    }
    let m: RegExpExecArray | null
    if (section === 'I_T nexus') {
      if ((m = /^I_T nexus: (\d+)$/.exec(line))) t.sessions.push({ sid: Number(m[1]), cids: [] })
      else if ((m = /^Initiator: (\S+)/.exec(line)) && t.sessions.length) t.sessions.at(-1)!.initiator = m[1]!
      else if ((m = /^Connection: (\d+)$/.exec(line)) && t.sessions.length) t.sessions.at(-1)!.cids.push(Number(m[1]))
    } else if (section === 'LUN') {
      if ((m = /^LUN: (\d+)$/.exec(line))) t.luns.push({ lun: Number(m[1]), type: '' })
      else if ((m = /^Type: (.*)$/.exec(line)) && t.luns.length) t.luns.at(-1)!.type = m[1]!
      else if ((m = /^Backing store path: (.*)$/.exec(line)) && t.luns.length && m[1] !== 'None') t.luns.at(-1)!.backingStore = m[1]!
    } else if (section === 'Account') {
      t.accounts.push(line.replace(/ \(outgoing\)$/, ''))
    } else if (section === 'ACL') {
      t.acl.push(line)
    }
  }
  return targets
}

export function parseAccounts(text: string): string[] {
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l.trim() === 'Account list:')
  return start === -1
    ? []
    : lines
        .slice(start + 1)
        .map((l) => l.trim())
        .filter(Boolean)
}

export interface TgtAdmOptions {
  /** The tgtadm binary. */
  readonly path: string
  /** tgtd's management port (`tgtd -C N`, socket /var/run/tgtd/socket.N); absent: tgtd's default. */
  readonly controlPort?: number
  /** The privileged helper for account creation (README.md, "Privileges"); absent: tgtd's socket in-process. */
  readonly accountHelper?: readonly string[]
}

export class TgtAdm {
  private readonly createAccount: AccountCreator

  constructor(
    private readonly run: Runner,
    private readonly options: TgtAdmOptions,
    accounts?: AccountCreator,
  ) {
    this.createAccount =
      accounts ??
      accountChannel({
        timeoutMs: 10_000,
        ...(options.controlPort !== undefined && { controlPort: options.controlPort }),
        ...(options.accountHelper && { helper: options.accountHelper }),
      })
  }

  /** The full argument array of one call (exposed for tests and for the printed plans). */
  argv(...args: string[]): string[] {
    const control = this.options.controlPort === undefined ? [] : ['-C', String(this.options.controlPort)]
    return [...control, '--lld', 'iscsi', ...args]
  }

  private async call(...args: string[]): Promise<string> {
    return (await this.run(this.options.path, this.argv(...args))).stdout
  }

  async showTargets(): Promise<TgtTarget[]> {
    return parseTargets(await this.call('--mode', 'target', '--op', 'show'))
  }

  async showAccounts(): Promise<string[]> {
    return parseAccounts(await this.call('--mode', 'account', '--op', 'show'))
  }

  async newTarget(tid: number, name: string): Promise<void> {
    await this.call('--mode', 'target', '--op', 'new', '--tid', String(tid), '--targetname', name)
  }

  async deleteTarget(tid: number, force = false): Promise<void> {
    await this.call('--mode', 'target', '--op', 'delete', ...(force ? ['--force'] : []), '--tid', String(tid))
  }

  async newLun(tid: number, lun: number, backingStore: string): Promise<void> {
    await this.call('--mode', 'logicalunit', '--op', 'new', '--tid', String(tid), '--lun', String(lun), '--backing-store', backingStore)
  }

  async deleteLun(tid: number, lun: number): Promise<void> {
    await this.call('--mode', 'logicalunit', '--op', 'delete', '--tid', String(tid), '--lun', String(lun))
  }

  async bindAddress(tid: number, address: string): Promise<void> {
    await this.call('--mode', 'target', '--op', 'bind', '--tid', String(tid), '--initiator-address', address)
  }

  /** Never through tgtadm: the secret must not be an argument (account-channel.ts). */
  async newAccount(user: string, password: string): Promise<void> {
    await this.createAccount(user, password)
  }

  /** Deletes the account (and with it every binding); false when there was none. */
  async deleteAccount(user: string): Promise<boolean> {
    try {
      await this.call('--mode', 'account', '--op', 'delete', '--user', user)
      return true
    } catch (err) {
      if (/can't find the account/.test(commandDetails(err))) return false
      throw err
    }
  }

  async bindAccount(tid: number, user: string): Promise<void> {
    await this.call('--mode', 'account', '--op', 'bind', '--tid', String(tid), '--user', user)
  }

  async closeConnection(tid: number, sid: number, cid: number): Promise<void> {
    await this.call('--mode', 'conn', '--op', 'delete', '--tid', String(tid), '--sid', String(sid), '--cid', String(cid))
  }
}
