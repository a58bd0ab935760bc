/** The validated configuration (defaults filled in). Keys are documented in docs/reference/config.md. */
import type { LoginLimits } from '../auth/login-limiter.js'
import type { Decision } from '../decision/types.js'
import type { DhcpConfig } from '../dhcp/config-schema.js'
import type { StateSettings } from '../state/open-state-backend.js'
import type { EventStoreSettings } from '../timeline/event-store-settings.js'
import type { TftpConfig } from '../tftp/config-schema.js'

export interface PluginEntry {
  name: string
  path?: string
  options: Record<string, unknown>
  enabled: boolean
}

/** The shape before freezing; `Config` is what every part gets. */
export interface ConfigShape {
  http: {
    host: string
    port: number
    bootPath: string
    maxConnections: number
    maxConnectionsPerAddress: number
    headersTimeoutMs: number
    requestTimeoutMs: number
    keepAliveTimeoutMs: number
    idleTimeoutMs: number
    adminToken?: string
    operators: { users: string[]; groups: string[]; sessionIdleS: number; sessionMaxS: number; maxSessions: number }
    tls?: { cert: string; key: string; ciphers: string; minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' }
  }
  policies: {
    dir: string
    timeoutMs: number
    memoryMb: number
    watch: boolean
    onError: 'failsafe' | 'next'
    cacheSize: number
    cacheTtlMs: number
    workers: number
  }
  templates: { dir: string }
  files: {
    dir?: string
    cache: { maxBytes: number; maxFileBytes: number }
    admission: { maxConcurrent: number; minBytes: number; retrySeconds: number; jitterSeconds: number }
  }
  default: Decision
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' }
  stateDir: string
  state: StateSettings
  timeline: {
    enabled: boolean
    maxMachines: number
    eventsPerMachine: number
    flushMs: number
    stuckAfterMs: number
    stuckAfterMsByProfile: Readonly<Record<string, number>>
    postgres: EventStoreSettings
  }
  /** Drop to this user and group after binding (both set, or neither). */
  user?: string
  group?: string
  dhcp: DhcpConfig
  tftp: TftpConfig
  pluginTimeouts: { setupMs: number; hookMs: number }
  auth: { limits: LoginLimits }
  plugins: PluginEntry[]
  /** Folder that relative paths were resolved against. */
  baseDir: string
}

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

/** The validated, deep-frozen configuration (load-config.ts freezes it; the type says so too). */
export type Config = DeepReadonly<ConfigShape>
