/**
 * iscsi-cow: every authenticated user gets a personal, writable copy-on-write iSCSI disk of a
 * shared read-only image (seed 000, part 4), exported by tgtd with CHAP.
 *
 * A policy returns `iscsiCow({ image, boot })` (kind `iscsi-cow.disk`) for an authenticated user;
 * the prepare hook makes the overlay, the COW device and the tgt target (idempotent, serialized per
 * user), resets the user's CHAP secret, closes old connections and returns the decision with the
 * portal, IQN, LUN and secret, which only the renderer reads. Because the plugin has a request
 * hook, the engine never caches whole responses: a secret is never served twice. See README.md.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { definePlugin, isStateUnavailable, stateUnavailable, type BootContext, type Decision, type IpxeScript, type StateBackend } from 'bootpolicy/plugin'
import { errors } from './errors.js'
import { detectBackend, type CowBackend } from './cow-backend.js'
import { DmSnapshotBackend } from './dm-snapshot-backend.js'
import { accountChannel } from './account-channel.js'
import { iscsiCommand } from './cli-command.js'
import { execRunner, type Runner } from './exec.js'
import { optionsSchema, resolveOptions, type IscsiCowOptions, type ResolvedOptions } from './options.js'
import { Provisioner } from './provisioner.js'
import { Qcow2Backend } from './qcow2-backend.js'
import { renderDisk, validateDisk, type RenderedDisk } from './render.js'
import { StateStore } from './state-store.js'
import { filesLayoutDocuments } from './state-import.js'
import { TgtAdm } from './tgtadm.js'
import type { IscsiCowDiskDecision } from './policy-helpers.js'

export type { IscsiCowOptions } from './options.js'
export type { IscsiCowDiskDecision, IscsiCowKernelBoot } from './policy-helpers.js'
export { optionsSchema, errors }

const helpersFile = fileURLToPath(new URL(`./policy-helpers${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

export function makeBackend(name: 'qcow2' | 'dm-snapshot', run: Runner, o: ResolvedOptions): CowBackend {
  return name === 'qcow2' ? new Qcow2Backend(run, { dataDir: o.dataDir, qemuImg: o.qemuImg, qemuStorageDaemon: o.qemuStorageDaemon }) : new DmSnapshotBackend(run, { dataDir: o.dataDir })
}

/**
 * The provisioner for these options, as the plugin and `bootpolicy iscsi` use it. `stateDir` is
 * the plugin's state directory (`<config stateDir>/plugins/iscsi-cow`).
 */
export function openIscsiCow(options: IscsiCowOptions, dirs: { baseDir: string; stateDir: string; logger: Logger; run?: Runner; state?: StateBackend }): Provisioner {
  const o = resolveOptions(options, dirs)
  // One server keeps its files layout; replicas on PostgreSQL share records and locks.
  const shared = dirs.state?.kind === 'postgres' ? dirs.state : undefined
  const run = dirs.run ?? execRunner({ prefix: o.commandPrefix, timeoutMs: o.commandTimeoutMs })
  const name = detectBackend(o.backend)
  if (name === 'dm-snapshot' && !existsSync('/dev/mapper/control')) {
    throw errors.create('BP_ERR_ISCSI_BACKEND', { backend: name, details: '/dev/mapper/control is missing (no device-mapper here); use backend qcow2 or auto' })
  }
  const backend = makeBackend(name, run, o)
  return new Provisioner(
    new TgtAdm(
      run,
      o.tgtadm,
      accountChannel({
        timeoutMs: o.commandTimeoutMs,
        ...(o.tgtadm.controlPort !== undefined && { controlPort: o.tgtadm.controlPort }),
        ...(o.tgtadm.accountHelper && { helper: o.tgtadm.accountHelper }),
      }),
    ),
    backend,
    new StateStore(dirs.stateDir, shared),
    {
      images: o.images,
      reversedHost: o.reversedHost,
      portal: o.portal,
      chapSecretLength: o.chapSecretLength,
      lockDir: join(dirs.stateDir, 'locks'),
      lockTimeoutMs: o.lockTimeoutMs,
      logger: dirs.logger,
      ...(shared && { shared }),
    },
  )
}

export default definePlugin((options: IscsiCowOptions) => {
  let provisioner: Provisioner | undefined
  const images = Object.keys(options.images ?? {})

  return {
    name: 'iscsi-cow',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema: optionsSchema,
    policyHelpers: helpersFile,
    errors,

    // `bootpolicy iscsi …`: loaded offline (no setup), so it builds its own provisioner on the same state backend.
    commands: {
      iscsi: iscsiCommand(async (c) => openIscsiCow(options, { baseDir: c.baseDir, stateDir: c.stateDir, logger: c.logger, state: await c.openState() })),
    },

    // `bootpolicy state import`: the files layout's records, as the documents replicas share.
    importState: (c) => filesLayoutDocuments(c.stateDir),

    async setup(api) {
      provisioner = openIscsiCow(options, { baseDir: api.baseDir, stateDir: api.stateDir, logger: api.logger, state: api.state })
      api.logger.info({ backend: provisioner.backend.name, images }, 'iscsi-cow backend')
      await provisioner.prehash()
      await provisioner.reconcile()
    },

    hooks: {
      prepare: {
        kinds: ['iscsi-cow.disk'],
        async handler(ctx: BootContext, decision: Decision) {
          if (decision.kind !== 'iscsi-cow.disk') return undefined
          const d = decision as unknown as IscsiCowDiskDecision
          const user = ctx.auth.status === 'authenticated' ? ctx.auth.principal?.name : undefined
          if (!user) throw errors.create('BP_ERR_ISCSI_UNAUTHENTICATED', { image: d.image })
          if (!provisioner) throw new Error('iscsi-cow: setup has not run')
          let target
          try {
            target = await provisioner.attach(d.image, user)
          } catch (err) {
            // Records or the lock across replicas unreachable: bootpolicy answers with its retry
            // failsafe (the client comes back), never the site's default (local disk, say).
            if (isStateUnavailable(err)) throw stateUnavailable('iscsi-cow disk records', err)
            throw err
          }
          return { ...d, target } as unknown as Decision
        },
      },
    },

    decisionKinds: {
      disk: {
        validate(d, path, problems) {
          validateDisk(images, d, path, problems)
        },
        render(decision: RenderedDisk, s: IpxeScript, _env, failLabel: string) {
          renderDisk(decision, s, failLabel)
        },
      },
    },

    /** Leaves targets and exports running: booted clients keep their disks across restarts. */
    async close() {
      provisioner = undefined
    },
  }
})

/** For tests and the CLI: the provisioner of a loaded plugin instance is internal; build one with openIscsiCow. */
export { Provisioner }
