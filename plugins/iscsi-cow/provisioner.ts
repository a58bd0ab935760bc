/**
 * One user's disk, end to end: base guard → overlay → COW device → tgt target with LUN 1 → fresh
 * CHAP secret → old connections closed. Idempotent (clients repeat /boot) and serialized per
 * target (in this process and across processes); different users run in parallel. Also the
 * start-up reconciliation with tgtd and the admin operations (list, reset).
 */
import { existsSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import type { Logger } from 'pino'
import { registerSecret } from 'bootpolicy/plugin'
import { errors } from './errors.js'
import { checkBase, identify, type BaseIdentity } from './base-guard.js'
import { chapSecret } from './chap-secret.js'
import type { CowBackend } from './cow-backend.js'
import { commandDetails } from './exec.js'
import type { StateBackend } from 'bootpolicy/plugin'
import { KeyedMutex, KeyLocks } from './key-mutex.js'
import { checkInstance, checkUser, guardAccount, targetIqn } from './names.js'
import type { StateStore, UserRecord } from './state-store.js'
import type { TgtAdm, TgtTarget } from './tgtadm.js'

export const LUN = 1

export interface ProvisionerOptions {
  /** Image name → absolute path of its read-only base. */
  readonly images: Readonly<Record<string, string>>
  readonly reversedHost: string
  readonly portal: { readonly address: string; readonly port: number }
  readonly chapSecretLength: number
  readonly lockDir: string
  /** The replicas' state backend (PostgreSQL): locks across replicas through it. */
  readonly shared?: StateBackend
  readonly lockTimeoutMs: number
  readonly logger: Logger
}

/** What a client needs to log in; `chapSecret` is valid until the user's next login. */
export interface Attachment {
  readonly portal: string
  readonly port: number
  readonly iqn: string
  readonly lun: number
  readonly chapUser: string
  readonly chapSecret: string
}

export interface DiskStatus {
  readonly instance: string
  readonly user: string
  readonly iqn: string
  readonly tid?: number
  readonly sessions: number
  readonly deviceUp: boolean
  readonly overlayBytes?: number
  readonly lastLoginAt?: string
}

export interface ReconcileSummary {
  adopted: number
  recreated: number
  devicesStarted: number
  skipped: number
}

export class Provisioner {
  private readonly locks: KeyLocks
  /** Target creation (tid allocation) and account resets are global in tgtd. */
  private readonly tgtLock = new KeyedMutex()
  private readonly accountLock = new KeyedMutex()
  private readonly hashing = new Map<string, Promise<BaseIdentity>>()

  constructor(
    readonly tgt: TgtAdm,
    readonly backend: CowBackend,
    readonly store: StateStore,
    private readonly options: ProvisionerOptions,
  ) {
    this.locks = new KeyLocks(options.lockDir, options.lockTimeoutMs, options.shared)
  }

  iqn(instance: string, user: string): string {
    return targetIqn(this.options.reversedHost, instance, user)
  }

  private base(instance: string): string {
    checkInstance(instance)
    const base = this.options.images[instance]
    if (!base) throw errors.create('BP_ERR_ISCSI_NAME', { what: 'instance', value: instance, reason: `no such image in the options (known: ${Object.keys(this.options.images).join(', ')})` })
    return base
  }

  /** Starts hashing the bases that have no recorded identity yet, so the first login does not wait. */
  async prehash(): Promise<void> {
    for (const [instance, base] of Object.entries(this.options.images)) {
      if (await this.store.getBase(instance)) continue
      const p = identify(base)
      p.catch(() => undefined)
      this.hashing.set(instance, p)
    }
  }

  /** Ensures the whole chain for (instance, user) and returns fresh credentials. */
  async attach(instance: string, user: string): Promise<Attachment> {
    const base = this.base(instance)
    checkUser(user)
    const iqn = this.iqn(instance, user)
    return this.locks.run(iqn, async () => {
      const t0 = performance.now()
      await this.guardBase(instance, base)
      const paths = this.backend.paths(instance, user)
      const now = new Date().toISOString()
      let record = await this.store.getUser(instance, user)
      if (record && record.backend !== this.backend.name) {
        throw errors.create('BP_ERR_ISCSI_BACKEND', {
          backend: this.backend.name,
          details: `the disk of ${user} on ${instance} was made by the ${record.backend} backend; set backend to ${record.backend} or reset it with --discard`,
        })
      }
      // The record comes first: after a crash, reconciliation knows about every overlay.
      record ??= { instance, user, iqn, backend: this.backend.name, overlay: paths.overlay, device: paths.device, createdAt: now, updatedAt: now }
      await this.store.putUser({ ...record, updatedAt: now })
      let created = false
      if (!existsSync(paths.overlay)) {
        if (record.lastLoginAt) this.options.logger.warn({ instance, user, overlay: paths.overlay }, 'overlay missing; the user gets a fresh copy of the base')
        await this.backend.createOverlay(base, paths.overlay)
        created = true
      }
      const { started } = await this.backend.ensureDevice(instance, user, base)
      const tid = await this.ensureTarget(iqn, instance, user, paths.device, started)
      const secret = chapSecret(this.options.chapSecretLength)
      // Known to the logger by value before it is used: no log line can carry it, whatever key.
      registerSecret(secret)
      // The secret changes before old connections close: an initiator that reconnects on its own
      // (libiscsi, dracut) presents the old secret and is refused. One writer at a time.
      await this.resetAccount(tid, user, secret)
      await this.closeConnections(tid)
      await this.store.putUser({ ...record, updatedAt: now, lastLoginAt: now })
      this.options.logger.info({ instance, user, iqn, tid, overlayCreated: created, deviceStarted: started, ms: Math.round(performance.now() - t0) }, 'iscsi disk ready')
      return { portal: this.options.portal.address, port: this.options.portal.port, iqn, lun: LUN, chapUser: user, chapSecret: secret }
    })
  }

  private async guardBase(instance: string, base: string): Promise<void> {
    const recorded = await this.store.getBase(instance)
    if (recorded) return checkBase(instance, recorded, base)
    let identity = await (this.hashing.get(instance) ?? identify(base)).catch(() => identify(base))
    this.hashing.delete(instance)
    // Hashed at start-up and changed since: no overlay existed yet, so hash the base as it is now.
    if (
      await checkBase(instance, identity, base).then(
        () => false,
        () => true,
      )
    )
      identity = await identify(base)
    await this.store.putBase(instance, identity)
    this.options.logger.info({ instance, base, size: identity.size, sha256: identity.sha256 }, 'base image identity recorded')
  }

  private async ensureTarget(iqn: string, instance: string, user: string, device: string, deviceRestarted: boolean): Promise<number> {
    const existing = (await this.tgt.showTargets()).find((t) => t.name === iqn)
    if (existing) {
      const lun = existing.luns.find((l) => l.lun === LUN)
      if (!lun || lun.backingStore !== device || deviceRestarted) {
        // The LUN holds the old device open: drop it (after its connections) and add it afresh.
        await this.closeConnections(existing.tid, existing)
        if (lun) await this.tgt.deleteLun(existing.tid, LUN)
        await this.tgt.newLun(existing.tid, LUN, device)
      }
      await this.ensureGuard(existing.tid, instance, user, existing)
      if (!existing.acl.includes('ALL')) await this.tgt.bindAddress(existing.tid, 'ALL')
      return existing.tid
    }
    return this.tgtLock.run('targets', async () => {
      for (let attempt = 0; ; attempt++) {
        const targets = await this.tgt.showTargets()
        const raced = targets.find((t) => t.name === iqn)
        if (raced) return raced.tid
        const used = new Set(targets.map((t) => t.tid))
        let tid = 1
        while (used.has(tid)) tid++
        try {
          await this.tgt.newTarget(tid, iqn)
        } catch (err) {
          // Another tgtadm user (a second server, an admin) took the tid meanwhile: pick again.
          if (attempt < 5 && /already exists/.test(commandDetails(err))) continue
          throw err
        }
        // No initiator may log in yet: the ACL is bound last, after the guard account, so the
        // target never exists without CHAP.
        await this.tgt.newLun(tid, LUN, device)
        await this.ensureGuard(tid, instance, user)
        await this.tgt.bindAddress(tid, 'ALL')
        return tid
      }
    })
  }

  /** An account nobody knows, bound to the target for good: with one bound, tgtd always demands CHAP. */
  private async ensureGuard(tid: number, instance: string, user: string, target?: TgtTarget): Promise<void> {
    const guard = guardAccount(instance, user)
    if (target?.accounts.includes(guard)) return
    if (!(await this.tgt.showAccounts()).includes(guard)) {
      const secret = chapSecret(16)
      registerSecret(secret)
      await this.tgt.newAccount(guard, secret)
    }
    await this.tgt.bindAccount(tid, guard)
  }

  private async resetAccount(tid: number, user: string, secret: string): Promise<void> {
    // Accounts are global in tgtd: one user's logins to two instances share the account.
    await this.accountLock.run(user, async () => {
      await this.tgt.deleteAccount(user)
      await this.tgt.newAccount(user, secret)
      await this.tgt.bindAccount(tid, user)
    })
  }

  private async closeConnections(tid: number, known?: TgtTarget): Promise<number> {
    const target = known ?? (await this.tgt.showTargets()).find((t) => t.tid === tid)
    let closed = 0
    for (const s of target?.sessions ?? []) {
      for (const cid of s.cids) {
        try {
          await this.tgt.closeConnection(tid, s.sid, cid)
          closed++
        } catch (err) {
          // Gone meanwhile (the initiator logged out): nothing to close.
          if (!/can't find/.test(commandDetails(err))) throw err
        }
      }
    }
    return closed
  }

  /**
   * On start: adopt targets that exist, recreate missing ones (locked by the guard account until
   * the user's next login), restart dead devices. Never creates or deletes an overlay.
   */
  async reconcile(): Promise<ReconcileSummary> {
    const summary: ReconcileSummary = { adopted: 0, recreated: 0, devicesStarted: 0, skipped: 0 }
    const log = this.options.logger
    for (const record of await this.store.listUsers()) {
      const { instance, user, iqn } = record
      try {
        const base = this.base(instance)
        await this.locks.run(iqn, async () => {
          if (record.backend !== this.backend.name) throw errors.create('BP_ERR_ISCSI_BACKEND', { backend: this.backend.name, details: `record made by ${record.backend}` })
          if (!existsSync(record.overlay)) {
            log.warn({ instance, user, overlay: record.overlay }, 'overlay missing; not recreated until the user logs in')
            summary.skipped++
            return
          }
          const recorded = await this.store.getBase(instance)
          if (recorded) await checkBase(instance, recorded, base)
          const before = (await this.tgt.showTargets()).some((t) => t.name === iqn)
          const { started } = await this.backend.ensureDevice(instance, user, base)
          await this.ensureTarget(iqn, instance, user, record.device, started)
          if (started) summary.devicesStarted++
          if (before) summary.adopted++
          else summary.recreated++
        })
      } catch (err) {
        summary.skipped++
        log.error({ instance, user, err }, 'iscsi disk not reattached at start')
      }
    }
    log.info(summary, 'iscsi disks reconciled with tgtd')
    return summary
  }

  async list(): Promise<DiskStatus[]> {
    const targets = await this.tgt.showTargets()
    const out: DiskStatus[] = []
    for (const r of await this.store.listUsers()) {
      const t = targets.find((x) => x.name === r.iqn)
      out.push({
        instance: r.instance,
        user: r.user,
        iqn: r.iqn,
        ...(t && { tid: t.tid }),
        sessions: t?.sessions.length ?? 0,
        deviceUp: await this.backend.deviceUp(r.instance, r.user),
        ...(existsSync(r.overlay) && { overlayBytes: await this.backend.overlayBytes(r.overlay) }),
        ...(r.lastLoginAt && { lastLoginAt: r.lastLoginAt }),
      })
    }
    return out
  }

  /**
   * Seed 000's rmtgt, in order: connections, target (and its guard account); with `device` the
   * COW device/export; with `discard` also the overlay and the record (a fresh copy next time).
   */
  async reset(instance: string, user: string, opts: { device?: boolean; discard?: boolean } = {}): Promise<{ target: boolean; device: boolean; overlay: boolean }> {
    checkInstance(instance)
    checkUser(user)
    const iqn = this.iqn(instance, user)
    return this.locks.run(iqn, async () => {
      const done = { target: false, device: false, overlay: false }
      const target = (await this.tgt.showTargets()).find((t) => t.name === iqn)
      if (target) {
        await this.closeConnections(target.tid, target)
        await this.tgt.deleteTarget(target.tid, true)
        done.target = true
      }
      await this.tgt.deleteAccount(guardAccount(instance, user))
      if (opts.device || opts.discard) {
        await this.backend.removeDevice(instance, user)
        done.device = true
      }
      if (opts.discard) {
        const record = await this.store.getUser(instance, user)
        const overlay = record?.overlay ?? this.backend.paths(instance, user).overlay
        await unlink(overlay).then(
          () => (done.overlay = true),
          (err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err
          },
        )
        await this.store.deleteUser(instance, user)
        // The last overlay of an image is gone: its base may change now; record it afresh next time.
        if (!(await this.store.listUsers()).some((r) => r.instance === instance)) await this.store.deleteBase(instance)
      }
      return done
    })
  }

  /** Test and admin helper: every record's device stopped (targets first). */
  async stopAll(): Promise<void> {
    for (const r of await this.store.listUsers()) await this.reset(r.instance, r.user, { device: true }).catch(() => undefined)
  }
}

export type { UserRecord }
