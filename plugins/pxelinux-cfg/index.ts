/**
 * pxelinux-cfg: chain pxelinux with a configuration generated for this client (seeds 003, 004).
 *
 * The decision kind `pxelinux-cfg.chain` renders `chain <lpxelinux.0>`; the `prepare` hook
 * remembers the client's configuration (in memory, for the address that asked /boot; see
 * client-files.ts); the `virtualFile` hook serves it under the names pxelinux tries next, over
 * HTTP and TFTP, to that address only.
 * `prepare` rather than render: it runs on every request, so a cached decision still stores it.
 * Replicas on PostgreSQL also share each file through the state backend (shared-client-files.ts).
 * See README.md.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { definePlugin, type BootContext, type Decision, type IpxeScript, type TransferClient } from 'bootpolicy/plugin'
import { createClientFiles, type ClientFiles } from './client-files.js'
import { sharedClientFiles } from './shared-client-files.js'
import { parseName } from './lookup-names.js'
import { checkConfig, checkVars, renderConfig, renderTemplate, TEMPLATE_NAME, type PxelinuxConfig } from './render-config.js'

export interface PxelinuxCfgOptions {
  /** Where iPXE chains lpxelinux.0 from (HTTP-capable pxelinux). */
  lpxelinuxUrl: string
  /** Absolute URL prefix pxelinux resolves relative names against (DHCP option 210); unset: pxelinux's own URL. */
  pathPrefix?: string
  /** Served as `pxelinux.cfg/default` to clients with no remembered configuration; unset: none. */
  defaultConfig?: PxelinuxConfig
  /** Folder of `<name>.cfg` templates with `{{ var }}` placeholders. Relative to the config file. */
  templatesDir?: string
  /** Clients remembered at once (least recently used first out). */
  maxClients: number
  /** How long a configuration is served after the /boot request that chose it. */
  ttlMs: number
  /**
   * Serve a client's file only to the address that asked /boot, keyed by that address. Off (for
   * NAT) keys files by the client's own claims and serves them to anyone: unsafe.
   */
  matchClientAddress: boolean
}

export type PxelinuxChainDecision =
  | { readonly kind: 'pxelinux-cfg.chain'; readonly config: PxelinuxConfig }
  | { readonly kind: 'pxelinux-cfg.chain'; readonly template: string; readonly vars?: Readonly<Record<string, string | number | boolean>> }

const KIND = 'pxelinux-cfg.chain'
const helpersFile = fileURLToPath(new URL(`./policy-helpers${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

export const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    lpxelinuxUrl: { type: 'string', maxLength: 1024, pattern: '^[^\\s${}]+$', default: '/files/lpxelinux.0' },
    pathPrefix: { type: 'string', maxLength: 1024, pattern: '^(https?|tftp)://[^\\s${}]+/$' },
    defaultConfig: { type: 'object' },
    templatesDir: { type: 'string', minLength: 1 },
    maxClients: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000 },
    ttlMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, default: 600_000 },
    matchClientAddress: { type: 'boolean', default: true },
  },
}

/** Every pxelinux-cfg.chain in a decision tree (top level or menu actions). */
function collect(d: Decision, out: Decision[] = []): Decision[] {
  if (d.kind === KIND) out.push(d)
  if (d.kind === 'menu') for (const item of (d as { items: readonly object[] }).items) if ('action' in item) collect((item as { action: Decision }).action, out)
  return out
}

export default definePlugin((options: PxelinuxCfgOptions) => {
  const templates = new Map<string, string>()
  let defaultFile: Buffer | undefined
  // Options are validated (defaults filled in) after the factory returns: build the store in setup.
  let files: ClientFiles | undefined

  function configText(d: Decision): string {
    const c = d as unknown as { config?: PxelinuxConfig; template?: string; vars?: Record<string, unknown> }
    return c.config ? renderConfig(c.config) : renderTemplate(templates.get(c.template!)!, c.vars ?? {})
  }

  return {
    name: 'pxelinux-cfg',
    version: '0.1.0',
    bootpolicy: '^0.1.0',
    schema: optionsSchema,
    policyHelpers: helpersFile,

    async setup(api) {
      const baseDir = api.baseDir
      files = createClientFiles(options)
      // Replicas on PostgreSQL: the replica that serves the file may not be the one that answered /boot.
      if (api.state.kind === 'postgres') files = sharedClientFiles(files, api.state, options, api.logger)
      if (!options.matchClientAddress) {
        api.logger.warn({ matchClientAddress: false }, "pxelinux files are keyed by client claims and served to any address: any host can read or replace any client's file")
      }
      if (options.defaultConfig) {
        const problems = checkConfig(options.defaultConfig, 'defaultConfig')
        if (problems.length) throw new Error(problems.join('; '))
        defaultFile = Buffer.from(renderConfig(options.defaultConfig))
      }
      if (options.templatesDir) {
        const dir = resolve(baseDir, options.templatesDir)
        for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cfg')).sort()) {
          const name = file.slice(0, -'.cfg'.length)
          if (!TEMPLATE_NAME.test(name)) throw new Error(`${join(dir, file)}: template names are 1-64 of A-Z a-z 0-9 _ . -`)
          templates.set(name, await readFile(join(dir, file), 'utf8'))
        }
        api.logger.info({ dir, templates: [...templates.keys()] }, 'pxelinux templates loaded')
      }
    },

    decisionKinds: {
      chain: {
        validate(d, path, problems) {
          for (const k of Object.keys(d)) if (!['kind', 'config', 'template', 'vars'].includes(k)) problems.push(`${path}.${k}: unknown field`)
          if ((d.config === undefined) === (d.template === undefined)) return void problems.push(`${path}: expected either config or template`)
          if (d.config !== undefined) {
            if (d.vars !== undefined) problems.push(`${path}.vars: only with template`)
            problems.push(...checkConfig(d.config, `${path}.config`))
            return
          }
          const template = typeof d.template === 'string' ? templates.get(d.template) : undefined
          if (template === undefined) return void problems.push(`${path}.template: no template ${JSON.stringify(d.template)} (known: ${[...templates.keys()].join(', ') || 'none'})`)
          problems.push(...checkVars(template, d.vars, `${path}.vars`))
        },
        render(_decision: Decision, s: IpxeScript, _env, failLabel: string) {
          // pxelinux resolves relative names against option 210 when iPXE passes it on.
          if (options.pathPrefix) s.command('set', '210:string', s.arg('pathPrefix', options.pathPrefix))
          s.commandOr(failLabel, 'chain', s.arg('lpxelinuxUrl', options.lpxelinuxUrl))
        },
      },
    },

    hooks: {
      prepare: {
        // Only answers that hold a pxelinux-cfg.chain are ours: the host skips every other one.
        kinds: ['pxelinux-cfg.chain'],
        async handler(ctx: BootContext, decision: Decision) {
          const found = collect(decision)
          if (found.length === 0) return undefined
          const texts = new Set(found.map(configText))
          if (texts.size > 1) throw new Error('one answer holds pxelinux-cfg.chain decisions with different configurations; pxelinux reads one per client')
          // The peer is what the server saw; mac, uuid and ip are the client's claims.
          await files!.remember({ peer: ctx.remoteAddress, mac: ctx.mac, uuid: ctx.uuid, ip: ctx.ip }, Buffer.from([...texts][0]!))
          return undefined
        },
      },
      async virtualFile(path: string, client: TransferClient) {
        const name = parseName(path)
        if (!name) return undefined
        if (name.kind === 'default') return defaultFile
        return files?.lookup(name, client.address)
      },
    },
  }
})
