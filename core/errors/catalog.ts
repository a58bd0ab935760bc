/**
 * The one catalog of core's codes. Every code the core emits is listed here once;
 * a published code is never reused for another meaning. Plugins declare their own codes
 * (defineErrors in bootpolicy/plugin) and document them in their README. The table of
 * docs/reference/errors.md is generated from `when`, `fix` and `status`
 * (`npm run error-docs`); test/core/errors/error-docs.test.ts fails when it is stale.
 */
export interface CatalogEntry {
  /** Message template; `{name}` is replaced from the error's params. */
  readonly message: string
  /** HTTP status when the error reaches an HTTP client. */
  readonly status?: number
  /** When it happens (documentation: one line of Markdown; the status is prepended as `HTTP 400.`). */
  readonly when: string
  /** How to fix it (documentation: one line of Markdown). */
  readonly fix: string
}

export const catalog = {
  BP_ERR_CONFIG_INVALID: {
    message: 'Invalid configuration: {details}',
    when: 'The config file or an environment override does not match the schema (every problem is listed with its path: an enum lists its allowed values, a type error names the type given, an unknown key gets the closest known one, a value set by a `BOOTPOLICY__…` variable names it), or the `default` decision is not a valid decision (checked when the server starts, and by `bootpolicy check`).',
    fix: 'Correct every listed path; `bootpolicy check` prints all schema problems at once.',
  },
  BP_ERR_CONFIG_READ: {
    message: 'Cannot read config file {file}: {details}',
    when: 'The file named by `--config` or `BOOTPOLICY_CONFIG` is missing, unreadable or not JSON. For JSON the message gives `file:line:col`, the reason (a trailing comma, a comment, single quotes…) and the line with a caret; values of keys named like a token, password or secret are masked there.',
    fix: 'Check the path and that the file is valid JSON.',
  },
  BP_ERR_CONFIG_DHCP: {
    message: 'DHCP settings do not fit together: {details}',
    when: "`bootpolicy check` with DHCP on: a MAC or address is reserved twice, or a rule of [dhcp](dhcp.md) on pool and reservations is broken; in full mode also the pool or a reservation lies outside the network of `dhcp.serverAddress` with `dhcp.subnetMask` (or of `dhcp.interface`'s address and mask).",
    fix: 'Move the pool and reservations into the served subnet; reserve each MAC and address once.',
  },
  BP_ERR_CONFIG_BOOT_FILE: {
    message: 'Boot file {file} is not under tftp.root ({root})',
    when: '`bootpolicy check`: a boot file you named in `dhcp.boot.archMap` or `dhcp.boot.vendorClassRules` is not a file under `tftp.root` (checked when TFTP is enabled).',
    fix: 'Copy the file there (`cp -L`: Debian ships iPXE binaries as symlinks) or fix the name.',
  },
  BP_ERR_STATE_CONFIG: {
    message: 'State backend settings are wrong: {details}',
    when: '`state.backend` is `postgres` and `state.url` is not a `postgres://user@host:port/database` URL, carries a password, has an unknown parameter, or `state.passwordFile` / `state.caFile` cannot be read. The message never contains the password.',
    fix: 'Fix the named setting; put the password in the file named by `state.passwordFile` (one line, mode 0600) or in `PGPASSWORD` ([replicas](../guides/replicas.md)).',
  },
  BP_ERR_STATE_UNAVAILABLE: {
    message: 'State database {target} is unavailable: {details}',
    status: 503,
    when: 'A statement of the PostgreSQL state backend could not reach the database: refused, dropped, timed out, shutting down, or the login was refused. Decisions that need shared state fail closed; pure policies keep answering.',
    fix: 'Start or reach the database; check `state.url`, the password and `pg_hba.conf`. Replicas recover by themselves when it is back.',
  },
  BP_ERR_STATE_MIGRATION: {
    message: 'State schema of {component} cannot be migrated: {details}',
    when: 'A migration failed (the step was rolled back), the database is at a newer schema version than this bootpolicy, or `state.migrate` is `manual` and migrations are pending.',
    fix: 'Read the details; run `bootpolicy state migrate` (or upgrade bootpolicy when the database is newer). `bootpolicy state status` lists versions.',
  },
  BP_ERR_STATE_LOCK_TIMEOUT: {
    message: 'State lock not obtained within {timeoutMs} ms',
    when: 'An exclusive section (one user disk, one key) waited longer than `state.lockTimeoutMs` for another replica or request holding it.',
    fix: 'Retry; if it persists, find the holder in `pg_locks` (locktype advisory) and the replica it belongs to.',
  },
  BP_ERR_CONTEXT_UNREADABLE: {
    message: 'Request cannot be read: {reason}',
    status: 400,
    when: 'A `/boot` query is longer than 8192 characters or has more than 64 `&`-separated pieces. No policy runs.',
    fix: 'Chain clients through `/boot.ipxe`, which builds a well-formed request.',
  },
  BP_ERR_POLICY_COMPILE: {
    message: 'Policy {policy} does not compile: {details}',
    when: 'A policy has a syntax error, imports anything but `bootpolicy/policy`, files in the policies directory or a plugin helper, or does not default-export a function.',
    fix: 'Fix the file at the reported `file:line:column`. A previously loaded version keeps serving meanwhile.',
  },
  BP_ERR_POLICY_TIMEOUT: {
    message: 'Policy {policy} exceeded its {timeoutMs} ms time limit at {location}',
    when: 'A policy call ran longer than `policies.timeoutMs` (default 50 ms): an endless loop, or too much work. The message names the line of `export default`.',
    fix: 'Make the policy a quick pure function; raise `policies.timeoutMs` only if the work is real.',
  },
  BP_ERR_POLICY_MEMORY: {
    message: 'Policy {policy} exceeded its {memoryMb} MB memory limit',
    when: "A policy's isolate exceeded `policies.memoryMb` (default 32 MB). The isolate was disposed and is rebuilt on the next call.",
    fix: 'Do not build large structures per request.',
  },
  BP_ERR_POLICY_THREW: {
    message: 'Policy {policy} threw at {location}: {details}',
    when: 'The policy function threw. The message names the TypeScript `file:line`.',
    fix: 'Fix the policy at that line; `bootpolicy explain` reproduces the request.',
  },
  BP_ERR_POLICY_BAD_DECISION: {
    message: 'Policy {policy} returned an invalid decision: {details}',
    when: 'A policy returned something that is not a decision: unknown kind, missing or unknown field, wrong type, a value over its limit, or data that is not plain (a function, a symbol).',
    fix: 'Build decisions with the helpers from `bootpolicy/policy`; return `undefined` to pass.',
  },
  BP_ERR_POLICY_LOAD: {
    message: 'Cannot load policies from {dir}',
    when: 'The policies directory is missing or unreadable.',
    fix: 'Point `policies.dir` at a readable directory.',
  },
  BP_ERR_POLICY_WORKER: {
    message: 'Policy worker failed: {details}',
    when: 'The worker thread running this request died (it is replaced at once and the other requests it held are dispatched again). A policy that hangs its worker beyond `policies.timeoutMs` + the watchdog margin gets `BP_ERR_POLICY_TIMEOUT` instead.',
    fix: 'Find the policy in the decision record; the log has a `BPWRN004` line. `policies.workers` sets the pool size.',
  },
  BP_ERR_POLICY_TYPE: {
    message: 'Type error in {policy}: {details}',
    when: '`bootpolicy check`, start-up or a hot reload: the TypeScript compiler (strict) rejects a policy or a file it imports, e.g. a misspelled context field such as `ctx.prodcut`. The server does not put that version live.',
    fix: "Fix the line named; the message carries the compiler's own code (TS2339, …). Your editor shows the same with the tsconfig.json of `bootpolicy init`.",
  },
  BP_ERR_POLICY_QUARANTINED: {
    message: 'Policy {policy} is quarantined: it hung its policy worker beyond the time limit twice; it fails every request without running until it is edited',
    when: "One revision of a policy hung a policy worker thread twice in a way its isolate time limit could not stop (for instance a promise rejected with a value whose `message` getter loops: isolated-vm reads it on the worker's thread). Each hang cost a worker and 250 ms or more; from then on that revision fails every request without running, in every worker (with `onError: failsafe` the client gets the failsafe), and `/healthz` lists it. The other policies keep running.",
    fix: 'Fix the policy (the log has a `BPWRN008` line, and `/healthz` lists it); saving the file makes a new revision, which runs again.',
  },
  BP_ERR_POLICY_LAST_GOOD: {
    message: 'Cannot keep the last good policies in {dir}: {details}',
    when: 'Writing the last good compiled policies under stateDir/policies failed (permissions, disk full); a restart while a policy is broken would not find them.',
    fix: 'Make stateDir writable by the serving user and free space; the next reload writes them again.',
  },
  BP_ERR_RENDER_UNSAFE_VALUE: {
    message: 'Value for {field} cannot be placed safely in an iPXE script: {reason}',
    when: 'A decision value cannot be placed in an iPXE script: an argument (URL, kernel argument, IQN) that is empty, holds whitespace, a control character or `${`, or is over 4096 characters; a kernel argument that holds `"` or is exactly `--` (Linux would join or drop the arguments after it); a NUL byte anywhere; a `template` used as a menu action; a template argument value (`{{ name }}`) that is empty or holds whitespace, a control character or `${` (named with the template file and line). The client got the failsafe script.',
    fix: 'Validate or transform client-supplied values in the policy; in templates use `{{ name | text }}` or `{{ name | url }}`.',
  },
  BP_ERR_RENDER_TOO_LARGE: {
    message: 'The iPXE script for this decision would exceed {limit}',
    when: 'Rendering a decision (including a plugin kind) produced more than 1 MiB (1,048,576 bytes) of iPXE script; rendering stops there. The client got the failsafe script.',
    fix: 'Return a smaller decision: fewer menu items or levels, shorter texts and argument lists.',
  },
  BP_ERR_DECISION_TOO_LARGE: {
    message: 'Decision refused, too large: {details}',
    when: 'A decision holds more than 10,000 objects that can hold decisions (decisions, menu entries, item lists), or nests menus deeper than 4. Validation and rendering stop at the 10,001st without walking further. From a policy or plugin `decide` hook the decision is refused; as `default` the server does not start.',
    fix: 'Return a smaller decision; split a huge menu into steps with `again`.',
  },
  BP_ERR_DECISION_SHARED_OBJECT: {
    message: 'Decision refused: one object appears twice ({details})',
    when: 'A decision reuses one object in two places (say every menu item pointing at the same sub-menu object). Walked as a tree that costs fan-out^depth, so it is refused at the second visit.',
    fix: 'Build each part separately (a new object per item), or use `again` for a shared sub-menu.',
  },
  BP_ERR_RENDER_TEMPLATE: {
    message: 'Template {template} failed to render: {details}',
    when: 'A `template` decision names a template that does not exist or failed to load, a value the template uses (`{{ name }}`) is missing or is an object or array, or the output would be over 256 KiB (or take over 10,000 steps: nodes visited plus section passes). The message names the template file and line.',
    fix: 'Check `templates.dir` and the template at the reported line; load problems are logged and listed by `/healthz`.',
  },
  BP_ERR_TEMPLATE_INVALID: {
    message: 'Template {template} is invalid: {details}',
    when: 'A template file does not parse: eta/EJS code (`<% %>`), partials (`{{>`), unescaped output (`{{{`, `{{&`), delimiter changes (`{{=`), an unknown form, an unclosed tag or section; or it is over 64 KiB, nests sections deeper than 8, or is a symlink whose real path is outside the templates directory. Named with file and line.',
    fix: 'Fix the template at the reported line (see [templates](decisions.md#template)); the other templates keep loading.',
  },
  BP_ERR_RENDER_UNKNOWN_KIND: {
    message: 'No renderer for decision kind {kind}',
    when: 'A decision has a plugin kind (`plugin.kind`) whose plugin is not loaded.',
    fix: 'Enable the plugin that provides the kind.',
  },
  BP_ERR_HTTP_NOT_FOUND: {
    message: 'Not found',
    status: 404,
    when: 'A requested static file does not exist under `files.dir`, or is not a regular file.',
    fix: 'Check the file name and `files.dir`.',
  },
  BP_ERR_HTTP_FORBIDDEN_PATH: {
    message: 'Path is not allowed',
    status: 403,
    when: 'A static file path tries to leave `files.dir` (`..`, also encoded), holds a NUL, control character or backslash, names a symlink that points outside, was swapped (for a symlink, or a directory for a symlinked one) between the check and the open, or cannot be read.',
    fix: 'Serve files from inside `files.dir` only.',
  },
  BP_ERR_HTTP_RANGE: {
    message: 'Range not satisfiable',
    status: 416,
    when: 'A `Range` header starts past the end of the file (or is `bytes=-0`).',
    fix: 'Ask for a range inside the file.',
  },
  BP_ERR_HTTP_UNAUTHORIZED: {
    message: 'Missing or wrong admin token',
    status: 401,
    when: '`POST /api/explain` was called without the configured bearer token, or with a wrong one.',
    fix: 'Send `Authorization: Bearer <http.adminToken>`.',
  },
  BP_ERR_HTTP_DISABLED: {
    message: 'This endpoint is disabled',
    status: 404,
    when: '`POST /api/explain` is off because `http.adminToken` is not set.',
    fix: 'Set `http.adminToken` to enable it.',
  },
  BP_ERR_HTTP_BAD_REQUEST: {
    message: 'Bad request: {details}',
    status: 400,
    when: 'The `POST /api/explain` body is not a JSON object of strings.',
    fix: 'Send the documented body ([HTTP API](http-api.md#post-apiexplain)).',
  },
  BP_ERR_HTTP_LOGIN_DISABLED: {
    message: 'Operator login is off: {details}',
    status: 404,
    when: '`POST /api/login` was called while no loaded plugin has an `authenticate` hook, or `http.operators` names no user and no group.',
    fix: 'Load an auth plugin (auth-pam, auth-kerberos, ldap) and list the operators under `http.operators.users` or `.groups`.',
  },
  BP_ERR_HTTP_LOGIN_FAILED: {
    message: 'Login refused',
    status: 401,
    when: '`POST /api/login`: unknown user, wrong password, or a good password of a user who is not in `http.operators` (the same answer for all three; the log says which). `POST /api/logout` without a live session token.',
    fix: 'Check the user name and password; add the user or one of its groups to `http.operators`.',
  },
  BP_ERR_HTTP_LOGIN_LIMITED: {
    message: 'Too many login attempts; retry in {retryInS} s',
    status: 429,
    when: '`POST /api/login` while the user or the client address is over the login limits (`auth.limits`, shared by replicas on PostgreSQL); no backend was asked. The response carries `Retry-After`.',
    fix: 'Wait `Retry-After` seconds; see the `BPSEC002` log line for which key is limited.',
  },
  BP_ERR_HTTP_LOGIN_UNAVAILABLE: {
    message: 'Login unavailable: {details}',
    status: 503,
    when: '`POST /api/login` while every auth plugin failed or timed out, or the shared login limits could not be reached (state database away): the login fails closed.',
    fix: 'Check the authentication backend and the state database; the log has the plugin error.',
  },
  BP_ERR_HTTP_BUSY: {
    message: 'Too many large downloads in flight; retry later',
    status: 503,
    when: 'A `/files` download of at least `files.admission.minBytes` arrived while `files.admission.maxConcurrent` such downloads were in flight. The response carries `Retry-After` (seconds); iPXE waits and retries by itself.',
    fix: 'Nothing, if intended: the client retries. Raise `files.admission.maxConcurrent` if the link and disk can carry more.',
  },
  BP_ERR_CLI_USAGE: {
    message: '{details}',
    when: 'The command line has an unknown command or option.',
    fix: 'Run `bootpolicy help`.',
  },
  BP_ERR_SERVER_LISTEN: {
    message: 'Cannot listen on {address}: {details}',
    when: '`serve` cannot bind its HTTP port (in use, or a port below 1024 without the capability); serve exits 1.',
    fix: 'Stop the other process on that port, choose another `http.port`, or grant `CAP_NET_BIND_SERVICE`.',
  },
  BP_ERR_SERVER_DEGRADED: {
    message: 'Refusing to start degraded (--strict): {details}',
    when: '`serve --strict` found problems before listening: a policy broken (serving its last good version or nothing), a template that does not compile, a plugin problem; serve exits 1.',
    fix: 'Fix what the message lists (`bootpolicy check` shows the same), or start without --strict to serve degraded.',
  },
  BP_ERR_SERVER_PRIVILEGES: {
    message: 'Cannot drop privileges to {user}: {details}',
    when: '`user`/`group` is set and switching to them after binding failed (unknown user or group, not started as root, or `stateDir` not writable by that user); serve exits 1 rather than keep running as root.',
    fix: 'Create the user and group, start serve as root (or with `CAP_SETUID`/`CAP_SETGID`), and `chown` the stateDir to that user.',
  },
  BP_ERR_PLUGIN_LOAD: {
    message: 'Cannot load plugin {plugin}: {details}',
    when: 'A plugin named in the config cannot be imported or does not default-export a factory.',
    fix: 'Install the package (`npm install NAME`) or fix `plugins[].path`.',
  },
  BP_ERR_PLUGIN_OPTIONS: {
    message: 'Invalid options for plugin {plugin}: {details}',
    when: "A plugin's options do not match its schema.",
    fix: "Correct every listed path in the plugin's `options`.",
  },
  BP_ERR_PLUGIN_HOOK: {
    message: 'Plugin {plugin} failed in hook {hook}: {details}',
    when: "A plugin's setup or hook threw. The request is still answered: a failed `enrich`, `authenticate`, `decide`, `dhcpOffer` or `virtualFile` is skipped, a failed `onRequest` or `prepare` gives the client the failsafe script. The engine also reports any other unexpected exception under this code (`plugin` and `hook` then read `unknown`).",
    fix: "See the plugin's README; `err.cause` holds the original error.",
  },
  BP_ERR_PLUGIN_VERSION: {
    message: 'Plugin {plugin} supports bootpolicy {range}, this is {version}',
    when: 'A plugin declares a supported bootpolicy range that excludes this version.',
    fix: 'Upgrade the plugin or bootpolicy.',
  },
  BP_ERR_PLUGIN_DEPENDENCY: {
    message: 'Plugin {plugin} needs plugin {dependency}, which is not loaded before it',
    when: "A plugin's `dependencies` are not all loaded before it.",
    fix: 'Add the missing plugin to `plugins`, ahead of the one that needs it.',
  },
  BP_ERR_PLUGIN_TIMEOUT: {
    message: 'Plugin {plugin} did not finish {hook} within {timeoutMs} ms',
    when: "A plugin's setup did not finish within `pluginTimeouts.setupMs` (default 10 000 ms), or a hook call within `pluginTimeouts.hookMs` (default 5000 ms). Handled like `BP_ERR_PLUGIN_HOOK`.",
    fix: "Check the plugin's backend (LDAP, KDC, tgtd) and its timeout options.",
  },
  BP_ERR_PLUGIN_DEFINITION: {
    message: 'Plugin {plugin} is not a valid plugin: {details}',
    when: 'A plugin definition has an unknown key or hook name (a misspelling), a hook, decision kind, command or error table of the wrong shape, or contributes a name that core or another plugin already has (kind, command, error code or namespace).',
    fix: 'Rename or fix the key named in the message (it suggests the closest known name); see docs/reference/plugins.md.',
  },
  BP_ERR_DHCP_BIND: {
    message: 'DHCP cannot bind {address}:{port}',
    when: 'The DHCP port is in use, or binding it needs privileges (ports below 1024 need root or `CAP_NET_BIND_SERVICE`).',
    fix: 'Stop the other DHCP server, or run with `CAP_NET_BIND_SERVICE`.',
  },
  BP_ERR_TFTP_BIND: {
    message: 'TFTP cannot bind {address}:{port}',
    when: 'The TFTP port is in use, or binding it needs privileges.',
    fix: 'Stop the other TFTP server, or run with `CAP_NET_BIND_SERVICE`.',
  },
  BP_ERR_TFTP_ROOT: {
    message: 'TFTP root {root} is not a readable directory',
    when: '`tftp.root` does not exist, is not a directory or cannot be read when the TFTP service starts.',
    fix: 'Create the directory, or point `tftp.root` at the directory holding your boot files.',
  },
  BP_ERR_TFTP_VIRTUAL_FILE: {
    message: 'Virtual file provider failed for {file}: {details}',
    when: 'A plugin generating TFTP files threw, timed out (`tftp.virtualFileTimeoutMs`) or returned something other than a Buffer; the client got a TFTP error.',
    fix: "See the plugin's README; `err.cause` holds the original error.",
  },
  BPWRN001: {
    message: 'Dropped malformed context field {field}',
    when: 'A `/boot` field was present but malformed (a MAC that is not 6 octets, a serial with control characters, an invalid parameter name, …). The request continues without it; the log line lists the wire names in `fields`.',
    fix: 'Usually a client quirk; chain clients through `/boot.ipxe`. See [boot context](boot-context.md#what-gets-dropped).',
  },
  BPWRN002: {
    message: 'Policy {policy} failed to reload; the last good version keeps serving',
    when: 'A policy does not compile, type-check or load, at start-up or after an edit; an earlier version (from memory or stateDir/policies) keeps serving.',
    fix: 'Fix the file; /healthz reports the error until you do.',
  },
  BPWRN003: {
    message: 'No policy decided; serving the default decision',
    when: 'Every policy (and plugin) passed, so the `default` decision was served. Logged at debug level.',
    fix: 'Nothing, if intended; else add a policy that covers the client.',
  },
  BPWRN004: {
    message: 'Policy worker replaced',
    when: 'A policy worker thread stopped answering (one unit of policy work ran past `policies.timeoutMs` + the watchdog margin) or died; it was terminated and replaced.',
    fix: 'The log line names the policy that was running (`policy`) and why (`reason`: `watchdog` or `exit`); fix that policy. Other clients kept being served.',
  },
  BPWRN005: {
    message: 'sanboot URI {uri} has an empty LUN',
    when: '`bootpolicy check` found a sanboot URI with an empty LUN (`iscsi:host::::iqn`) in a policy, a template or the `default`: iPXE then uses LUN 0, which on tgtd is the controller, not the disk.',
    fix: 'Name the LUN: `iscsi:host:::1:iqn`.',
  },
  BPWRN006: {
    message: 'Default boot files missing under tftp.root ({root}): {files}',
    when: '`bootpolicy check`: files of the built-in `dhcp.boot.archMap` are missing under `tftp.root`; clients of those architectures cannot load iPXE.',
    fix: 'Copy the ones your machines need, or set `dhcp.boot.archMap` to what you serve.',
  },
  BPWRN007: {
    message: 'Interface {interface} is not present on this host',
    when: "`bootpolicy check` could not compare the DHCP pool with `dhcp.interface`'s subnet: this host has no such interface.",
    fix: 'Run check on the DHCP server, or also set `dhcp.serverAddress`.',
  },
  BPWRN008: {
    message: 'Policy {policy} quarantined',
    when: 'One policy revision hung a policy worker twice (two `BPWRN004` lines with `reason: watchdog` naming it); it now fails every request with `BP_ERR_POLICY_QUARANTINED` without running, and `/healthz` lists it.',
    fix: 'Fix the policy (the line names it in `policy`, with its `hash`); saving the file makes a new revision, which runs again.',
  },
  BPWRN009: {
    message: 'Policy {policy} serves its last good revision {revision} (since {since})',
    when: 'The policy file is broken (compile, type or load error); an older revision serves meanwhile: the one loaded before the edit, or after a restart the one kept under stateDir/policies.',
    fix: 'Fix the file (the BPWRN002 line and /healthz say what is wrong); the fixed version replaces the old one.',
  },
  BPWRN010: {
    message: 'Policy {policy} is broken and has no good revision; it is not serving',
    when: 'A policy failed to compile, type-check or load and no earlier version of it exists (in memory or under stateDir/policies): requests skip it.',
    fix: 'Fix the file; `bootpolicy check` shows the errors.',
  },
  BPSEC001: {
    message: 'Admin token is shorter than 16 characters',
    when: '`http.adminToken` is set but shorter than 16 characters. Logged at startup.',
    fix: 'Use a long random token (`openssl rand -hex 24`).',
  },
  BP_ERR_DHCP_MALFORMED: {
    message: 'Malformed DHCP packet: {reason}',
    when: 'A datagram on the DHCP ports is truncated, has a wrong magic cookie, or has an option that overruns the packet. The packet is dropped.',
    fix: 'Nothing on the server; if one client keeps sending them, check its firmware (the log has its address).',
  },
  BP_ERR_DHCP_STATE: {
    message: 'DHCP lease state {file} cannot be {action}: {details}',
    when: 'The lease file under the state directory is unreadable, has a damaged batch followed by a committed one (an uncommitted tail, an interrupted append, is cut), or cannot be written: at start the service does not start; for a lease change, the REQUEST it answers gets no reply (no ACK for a lease that is not durable).',
    fix: "Check the state directory's permissions and free space; move a corrupt file aside to start with no leases.",
  },
  BP_ERR_DHCP_HOOK: {
    message: 'decideBoot failed for {mac}: {details}',
    when: 'The `decideBoot` hook threw or did not answer within `dhcp.boot.hookTimeoutMs`; the client got the default boot file.',
    fix: 'Check the plugin behind the `dhcpOffer` hook; `err.cause` holds the original error.',
  },
  BP_ERR_DHCP_POOL_EXHAUSTED: {
    message: 'DHCP pool {start}-{end} has no free address',
    when: 'Every pool address is leased, reserved or declined (offers give way to new clients); new clients get no offer.',
    fix: 'Widen `dhcp.pool`, shorten `dhcp.leaseSeconds`, or remove stale leases.',
  },
  BP_ERR_DHCP_NOT_OWNER: {
    message: 'DHCP {kind} for {ip} ignored: {reason}',
    when: "A DHCPDECLINE or DHCPRELEASE named an address that is not offered or leased to the sender, lacked this server's identifier (option 54), or (RELEASE) was not sent from the leased address. The message is ignored; the warning is logged at most every 10 s with `ignoredTotal`, each one at debug.",
    fix: 'Nothing if it is an attack or a confused client: the lease owner keeps its lease. A steady stream points at a host forging DHCP packets ([dhcp](dhcp.md#lease-ownership)).',
  },
  BP_ERR_DHCP_OVERLOAD: {
    message: 'DHCP receive queue full ({capacity} packets): oldest packets dropped',
    when: 'Datagrams arrived faster than the DHCP service answers them and `dhcp.queue.capacity` were waiting; the oldest waiting ones were dropped (their clients retransmit). Logged at warn at most every 10 s with `droppedTotal`; `bootpolicy_dhcp_packets_dropped_total{reason="queue_full"}` counts every one.',
    fix: 'Nothing for a short burst (a rack powering on). A steady stream means a flood or too little CPU: find the sender, or raise `dhcp.queue.capacity` only if the clients wait long enough ([dhcp](dhcp.md#under-load)).',
  },
  BPSEC002: {
    message: 'Login rate limited for {username}',
    when: 'A username or a client address reached `auth.limits` failed logins within the window; no authentication backend was asked, and the client was told when to retry.',
    fix: 'Nothing if it is an attack; else wait, or raise `auth.limits`.',
  },
  BP_ERR_INTENT_INVALID: {
    message: 'Invalid intent: {details}',
    status: 400,
    when: 'A `PUT /api/intents` body (or `bootpolicy intent set`) is not a valid intent: the machine is not `mac:`, `uuid:` or `label:` with a well-formed value, neither or both of `profile` and `decision` are given, the decision is invalid, the note is longer than 500 characters or holds control characters, or the expiry is missing, in the past or more than 30 days ahead.',
    fix: 'Correct the listed field ([intents](intents.md#the-http-api)).',
  },
  BP_ERR_INTENT_NOT_FOUND: {
    message: 'No intent is armed for {machine}',
    status: 404,
    when: '`DELETE /api/intents/<machine>` (or `bootpolicy intent clear`) named a machine that has no armed intent.',
    fix: 'Nothing to clear; `bootpolicy intent list` shows what is armed and how each intent ended.',
  },
  BP_ERR_INTENT_LIMIT: {
    message: 'Too many armed intents (limit {limit})',
    status: 409,
    when: 'Arming one more intent would exceed 10,000 armed intents.',
    fix: 'Clear intents that are no longer wanted, or let them expire.',
  },
  BP_ERR_INTENT_STATE: {
    message: 'Intent state cannot be {action}: {details}',
    status: 500,
    when: 'The intents document under the state directory (`stateDir/intents.json`) cannot be read or written (permissions, disk full). Nothing changed; a boot that needed a token got the failsafe.',
    fix: "Check the state directory's permissions and free space.",
  },
  BP_ERR_CALLBACK_TOKEN: {
    message: 'Callback refused: the token is unknown, already used, revoked, or not for this machine',
    status: 403,
    when: 'An installer called `POST /api/callback/built` or `/failed` with a token that is not the live token of an intent issued to the `mac` (or `uuid`) it names: a second use, a token a later boot replaced, a cleared intent, or another machine. Said the same way in every case.',
    fix: 'Re-run the install: its next boot under the intent carries a fresh token ([reinstall machines once](../guides/reinstall-machines-once.md#what-each-failure-looks-like)).',
  },
  BP_ERR_CALLBACK_EXPIRED: {
    message: 'Callback refused: the intent expired before the callback',
    status: 410,
    when: 'The token was right, but its intent had expired: it is ended with the reason "expired before callback" and the machine boots as if no intent were armed.',
    fix: 'Arm the machine again with a longer expiry.',
  },
  BP_ERR_CALLBACK_BAD_REQUEST: {
    message: 'Bad callback: {details}',
    status: 400,
    when: 'A callback lacks a well-formed `token` (40 hex digits) or a `mac`/`uuid`, names an outcome other than `built` or `failed`, or its `reason` or `log` is too long (200 and 4096 characters).',
    fix: 'Send the documented form ([intents](intents.md#installer-callbacks)).',
  },
  BPWRN011: {
    message: 'Intent for {machine} expired before its callback',
    when: 'An armed intent reached its expiry without a `built` callback (found by the once-a-second sweep, by a boot or by a late callback). It is ended with the reason "expired before callback"; the machine boots as if no intent were armed.',
    fix: 'Look at the machine: its install did not call back in time. Arm it again to retry.',
  },
  BP_ERR_MACHINE_NOT_FOUND: {
    message: 'No timeline for machine {machine}',
    status: 404,
    when: '`GET /api/machines/<machine>/timeline` (or `bootpolicy timeline`) named a machine the timeline does not know: never seen, forgotten (the least recently seen goes first beyond `timeline.maxMachines`), or not a MAC or `ip:` id.',
    fix: '`bootpolicy machines` lists the known machines and their ids.',
  },
  BP_ERR_MACHINE_QUERY: {
    message: 'Bad machines query: limit 1-1000, offset and after non-negative integers, mac a MAC',
    status: 400,
    when: 'A `/api/machines` request has a `limit`, `offset`, `after` or `mac` parameter out of range or malformed.',
    fix: 'Send the documented parameters ([timeline](timeline.md#the-http-api)).',
  },
  BPWRN012: {
    message: 'Machine {machine} stuck: its installer boot sent no callback in time',
    when: 'A machine was handed an installer token (a boot under an intent) and neither a callback nor the end of its intent came within the `timeline.stuckAfterMsByProfile` entry of its profile, else `timeline.stuckAfterMs` (the line says `limitMs` and `profile`). It shows as `stuck` in `bootpolicy machines` and `bootpolicy_machines{state="stuck"}`, and `bootpolicy_machines_stuck_total` counts it.',
    fix: "Look at the machine's console and `bootpolicy timeline <mac>`: the last events say how far the install got.",
  },
} as const satisfies Record<string, CatalogEntry>

export type ErrorCode = keyof typeof catalog

/** Codes that left this catalog (moved to a plugin under a namespaced name): never to be reused here. */
export const retiredCodes: readonly string[] = ['BPSEC003', 'BPSEC004']
