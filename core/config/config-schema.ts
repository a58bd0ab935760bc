/**
 * The configuration schema (JSON Schema draft-07, validated by ajv with defaults filled in and
 * every violation reported at once). docs/reference/config.md documents each key.
 */
import { DEFAULT_LOGIN_LIMITS as limits } from '../auth/login-limiter.js'
import { dhcpConfigSchema } from '../dhcp/config-schema.js'
import { tftpConfigSchema } from '../tftp/config-schema.js'

/** A section schema without its own $schema/$id, so that it nests in this one. */
function section<T extends { $schema?: string; $id?: string }>(schema: T): Omit<T, '$schema' | '$id'> {
  const { $schema: _s, $id: _i, ...rest } = schema
  return rest
}

/** The DHCP section, except that `boot.httpPort` defaults to `http.port` (filled in by the server). */
function dhcpSection() {
  const copy = structuredClone(section(dhcpConfigSchema)) as { properties: { boot: { properties: { httpPort: { default?: number } } } } }
  delete copy.properties.boot.properties.httpPort.default
  return copy
}

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Where an editor finds this schema (`bootpolicy init` writes it); ignored by bootpolicy. */
    $schema: { type: 'string' },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', default: '0.0.0.0' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        /** Path of the decision endpoint; the bootstrap is the same path plus `.ipxe` (`/boot` → `/boot.ipxe`). */
        bootPath: { type: 'string', pattern: '^/[A-Za-z0-9._/-]*$', default: '/boot' },
        /** Open connections at most (all clients); the excess is closed on accept. */
        maxConnections: { type: 'integer', minimum: 1, maximum: 1000000, default: 512 },
        /** Open connections at most from one client address; iPXE uses one per boot. */
        maxConnectionsPerAddress: { type: 'integer', minimum: 1, maximum: 1000000, default: 32 },
        /** A request's headers must arrive within this (iPXE sends ~100 bytes at once). */
        headersTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: 5000 },
        /** The whole request (headers and body) must arrive within this; at least headersTimeoutMs. */
        requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: 10000 },
        /** An idle keep-alive connection is closed after this. */
        keepAliveTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: 5000 },
        /** A connection with no traffic either way (e.g. a client that stops reading) is closed after this. */
        idleTimeoutMs: { type: 'integer', minimum: 1000, maximum: 3600000, default: 30000 },
        /** Bearer token for admin endpoints (POST /api/explain). Unset: those endpoints are off. */
        adminToken: { type: 'string', minLength: 1 },
        /**
         * Who may log in through POST /api/login (an auth plugin checks the password) and then arm,
         * clear and list intents and read machines. Empty lists (the default): nobody.
         */
        operators: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            users: { type: 'array', maxItems: 1000, uniqueItems: true, default: [], items: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$' } },
            groups: { type: 'array', maxItems: 1000, uniqueItems: true, default: [], items: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' } },
            /** A session unused this long ends. */
            sessionIdleS: { type: 'integer', minimum: 1, maximum: 86400, default: 900 },
            /** A session ends this long after its login, however much it is used. */
            sessionMaxS: { type: 'integer', minimum: 1, maximum: 604800, default: 28800 },
            /** Sessions kept at most; a login beyond drops expired ones, then the oldest. */
            maxSessions: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: {
            cert: { type: 'string' },
            key: { type: 'string' },
            /** OpenSSL cipher list; the default is what iPXE negotiates (RSA key exchange, AES-CBC). */
            ciphers: { type: 'string', default: 'AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA' },
            minVersion: { type: 'string', enum: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
          },
        },
      },
    },
    policies: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dir: { type: 'string', default: 'policies' },
        timeoutMs: { type: 'integer', minimum: 1, maximum: 10000, default: 50 },
        memoryMb: { type: 'integer', minimum: 8, maximum: 4096, default: 32 },
        watch: { type: 'boolean', default: true },
        /** `failsafe`: a failing policy ends the evaluation with the default; `next`: skip it. */
        onError: { type: 'string', enum: ['failsafe', 'next'], default: 'failsafe' },
        cacheSize: { type: 'integer', minimum: 0, default: 10000 },
        cacheTtlMs: { type: 'integer', minimum: 0, default: 300000 },
        /** Worker threads that run the policies (each holds every policy's isolate). */
        workers: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
      },
    },
    templates: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { dir: { type: 'string', default: 'templates' } },
    },
    files: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Served read-only at /files/…; unset: no static files. */
        dir: { type: 'string' },
        /** Whole files kept in memory and sent from there (core/files/file-cache.ts); 0 turns it off. */
        cache: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            maxBytes: { type: 'integer', minimum: 0, maximum: 2 ** 40, default: 256 * 1024 * 1024 },
            maxFileBytes: { type: 'integer', minimum: 0, maximum: 2 ** 40, default: 64 * 1024 * 1024 },
          },
        },
        /** Large downloads in flight at most; the rest get 503 + Retry-After (core/files/admission.ts). */
        admission: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            maxConcurrent: { type: 'integer', minimum: 0, maximum: 100000, default: 0 },
            minBytes: { type: 'integer', minimum: 0, default: 1024 * 1024 },
            retrySeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
            jitterSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 5 },
          },
        },
      },
    },
    /** The decision served when nothing decides, and after any failure. */
    default: { type: 'object', required: ['kind'], default: { kind: 'exit' } },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
      },
    },
    stateDir: { type: 'string', default: 'var' },
    /** Where shared state lives: files under stateDir (one server) or PostgreSQL (replicas). */
    state: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        backend: { type: 'string', enum: ['files', 'postgres'], default: 'files' },
        /** postgres://user@host:port/database (no password; ?host=/socket/dir for a unix socket); required for postgres. */
        url: { type: 'string', minLength: 1, maxLength: 2048 },
        /** A file holding the database password on one line. */
        passwordFile: { type: 'string', minLength: 1 },
        /** The variable holding the password when there is no passwordFile. */
        passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', default: 'PGPASSWORD' },
        pool: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            max: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
            idleTimeoutMs: { type: 'integer', minimum: 100, default: 10_000 },
          },
        },
        connectTimeoutMs: { type: 'integer', minimum: 100, default: 5000 },
        statementTimeoutMs: { type: 'integer', minimum: 100, default: 10_000 },
        lockTimeoutMs: { type: 'integer', minimum: 100, default: 30_000 },
        /** auto: a replica applies pending migrations at start; manual: it refuses to start until `bootpolicy state migrate`. */
        migrate: { type: 'string', enum: ['auto', 'manual'], default: 'auto' },
        sslmode: { type: 'string', enum: ['disable', 'require', 'verify-full'] },
        caFile: { type: 'string', minLength: 1 },
      },
    },
    /** The machine timeline (docs/reference/timeline.md): memory and disk are bounded by these. */
    timeline: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        /** Machines remembered at most; the least recently seen is forgotten first. */
        maxMachines: { type: 'integer', minimum: 1, maximum: 1000000, default: 2000 },
        /** Events kept per machine (a ring: the oldest goes first). */
        eventsPerMachine: { type: 'integer', minimum: 4, maximum: 10000, default: 64 },
        /** How often a changed timeline is written to stateDir/timeline.json; 0 keeps it in memory only. */
        flushMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 10000 },
        /** An installer boot (a token issued) with no callback after this long is stuck (BPWRN012). */
        stuckAfterMs: { type: 'integer', minimum: 1000, maximum: 604800000, default: 3600000 },
        /** Per intent profile: its installer boot is stuck after this long instead (a slow install's own limit). */
        stuckAfterMsByProfile: {
          type: 'object',
          default: {},
          maxProperties: 1000,
          propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
          additionalProperties: { type: 'integer', minimum: 1000, maximum: 604800000 },
        },
        /** With state.backend postgres: the timeline and decision records in shared tables (batched, bounded, with retention). */
        postgres: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            /** How often queued rows are written: one INSERT per table per batch. */
            batchMs: { type: 'integer', minimum: 10, maximum: 60000, default: 200 },
            batchMax: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
            /** Events (and decision records) waiting at most while the database is slow or away; the oldest is dropped and counted. */
            queueMax: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
            /** How often the SSE tail asks the database for new events while a client listens. */
            pollMs: { type: 'integer', minimum: 50, maximum: 60000, default: 500 },
            /** Store each /boot decision record too (the log line is written either way). */
            decisions: { type: 'boolean', default: true },
            retention: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                everyMs: { type: 'integer', minimum: 1000, maximum: 86400000, default: 60000 },
                maxAgeMs: { type: 'integer', minimum: 60000, maximum: 31622400000, default: 2592000000 },
                maxEvents: { type: 'integer', minimum: 1, maximum: 1000000000, default: 1000000 },
                maxDecisions: { type: 'integer', minimum: 1, maximum: 1000000000, default: 1000000 },
                maxMachines: { type: 'integer', minimum: 1, maximum: 100000000, default: 100000 },
              },
            },
          },
        },
      },
    },
    /** After every port is bound, switch to this user (name or uid) and group; both or neither. */
    user: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$', maxLength: 32 },
    group: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$', maxLength: 32 },
    dhcp: { ...dhcpSection(), default: {} },
    tftp: { ...section(tftpConfigSchema), default: {} },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** Failed logins allowed per window, per username and per client address (BPSEC002). */
        limits: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            // The limiter's own defaults (it also runs without a config: plugin tests).
            perUser: { type: 'integer', minimum: 1, default: limits.perUser },
            perAddress: { type: 'integer', minimum: 1, default: limits.perAddress },
            windowMs: { type: 'integer', minimum: 1000, default: limits.windowMs },
            maxKeys: { type: 'integer', minimum: 100, default: limits.maxKeys },
            maxLimitedKeys: { type: 'integer', minimum: 100, default: limits.maxLimitedKeys },
          },
        },
      },
    },
    pluginTimeouts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        setupMs: { type: 'integer', minimum: 1, default: 10000 },
        /** Per request-hook call; PAM needs ~2 s to refuse a wrong password. */
        hookMs: { type: 'integer', minimum: 1, default: 5000 },
      },
    },
    plugins: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          /** npm package name, or a folder under plugins/. */
          name: { type: 'string', minLength: 1 },
          /** Explicit path to the plugin module (overrides name resolution). */
          path: { type: 'string' },
          options: { type: 'object', default: {} },
          enabled: { type: 'boolean', default: true },
        },
        required: ['name'],
      },
    },
  },
  // A user without a group (or the reverse) would leave root's group or root's uid behind.
  dependencies: { user: ['group'], group: ['user'] },
} as const
