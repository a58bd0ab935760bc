/** The CLI's help: the overview (`bootpolicy help`) and one page per command (`bootpolicy <command> --help`). */

export const OVERVIEW = `Usage: bootpolicy <command> [options]

Commands:
  init [DIR]            create a site directory (config, example policy and test, tsconfig.json)
  serve                 run the HTTP (and, if configured, DHCP and TFTP) services
  check                 validate config, plugins, policies (type-checked), templates, DHCP/TFTP; exit 1 on errors
  test [dir]            run the policy tests (<policy>.test.ts) and print PASS/FAIL/ERROR
  explain --mac M ...   show what a client would get, and why (any /boot wire field as --name value)
  cert --name HOST      create a self-signed RSA certificate for HTTPS (--out DIR, default tls/; --days N; --force)
  intent set|clear|list arm a machine to boot once into a profile or decision, clear it, list intents
  state SUB             shared state backend: migrate (schema), status (versions), import (from files)
  machines              known machines: state, last seen, last decision, intent
  timeline MAC          one machine's events from every service, oldest first
  help [COMMAND]        this text, or a command's

Options:
  --config FILE         config file (JSON); default: ./bootpolicy.json if present, else $BOOTPOLICY_CONFIG,
                        else the embedded default
  --format text|json    output format for test, check and explain
  --help                help for a command (bootpolicy check --help)
  --version             print the version

Plugins add commands: with a config, this text ends with the configured plugins' commands.
`

const CONFIG = '  --config FILE         config file; default ./bootpolicy.json, else $BOOTPOLICY_CONFIG, else the embedded default\n'
const FORMAT = '  --format text|json    output format\n'

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  init: `Usage: bootpolicy init [DIR]

Creates DIR (default: the current directory), which must be empty or absent:
  bootpolicy.json       config, with "$schema" for your editor
  policies/             one example policy and its .test.ts
  templates/, files/    iPXE templates and static files served at /files/
  tsconfig.json         so that your editor and tsc see bootpolicy/policy and plugin helpers with full types
Then: cd DIR && bootpolicy check && bootpolicy test
`,
  serve: `Usage: bootpolicy serve [--config FILE] [--strict]

Runs the HTTP service (and DHCP and TFTP when the config enables them) until SIGINT or SIGTERM.
Logs are JSON lines on stdout; the line "bootpolicy is serving URL" says it is ready.
Options:
  --strict        refuse to start degraded: exit 1 if a policy is broken (even one that would
                  serve its last good version), a template does not compile or a plugin failed
${CONFIG}`,
  check: `Usage: bootpolicy check [--config FILE] [--format text|json]

Checks without starting anything: the config against its schema; the plugins (found, version,
options against their schemas; their setup is not run); the default decision, plugin kinds included;
every policy type-checked (TypeScript, strict) and compiled; the templates; DHCP/TFTP settings
(pool and reservations inside the served subnet, no duplicates, boot files under tftp.root);
sanboot URIs with an empty LUN (warning).
Prints one line per problem, "file:line:col: CODE message" ("warning:" before the code of a warning).
Exit status: 0 no errors (warnings allowed), 1 errors, 2 usage.
Options:
${CONFIG}${FORMAT}`,
  test: `Usage: bootpolicy test [DIR] [--run PATTERN] [--verbose] [--watch] [--config FILE] [--format text|json]

Runs every <policy>.test.ts of DIR (default: policies.dir) in the production sandbox, with the
configured plugins' helpers and decision kinds (plugins are not set up), and every *.test.ts that
exports cases.chain([...]) against the whole chain. Exit 1 on any FAIL or ERROR, or when no case ran.
Options:
  --run PATTERN         only cases whose "policy: case name" matches this regular expression
  --verbose             show print() output under every case (by default only under FAIL/ERROR)
  --watch               run again whenever a file in DIR changes, until interrupted
${CONFIG}${FORMAT}`,
  explain: `Usage: bootpolicy explain --mac M [--uuid U] [--buildarch A] [--param name=value] ... [--config FILE] [--format text|json]

Shows the decision a client would get, who decided, and the rendered script (a dry run: no prepare hooks).
Every /boot wire field can be given as --name value.
Options:
${CONFIG}${FORMAT}`,
  cert: `Usage: bootpolicy cert --name HOST [--out DIR] [--days N] [--force]

Creates a self-signed RSA 2048 certificate for HOST (DNS name or IP address) in DIR (default tls/)
and prints the config snippet and the iPXE build line.
`,
  intent: `Usage: bootpolicy intent set <machine> (--profile NAME | --decision JSON) --expires 2h [--note TEXT]
       bootpolicy intent clear <machine>
       bootpolicy intent list [--format text|json]

Arms a machine (mac:<MAC>, uuid:<UUID> or label:<hostname>) to boot once into a named profile or a
decision, until an installer calls back "built" or the expiry (90s, 30m, 2h, 7d, or an ISO 8601 date;
at most 30 days) passes. A client of the running server's /api/intents: it uses http.host and
http.port of the config (or --server URL) and http.adminToken (or $BOOTPOLICY_ADMIN_TOKEN).
list shows the armed intents and the newest ended ones, with who set them and how they ended.
Options:
  --server URL          the server (default http://<http.host>:<http.port>)
${CONFIG}${FORMAT}`,
  state: `Usage: bootpolicy state migrate|status|import [--from DIR] [--dry-run] [--config FILE] [--format text|json]

migrate   apply pending schema migrations of the PostgreSQL state backend (state.backend "postgres")
status    print the backend, its target and each component's schema version; exit 1 when some are pending
import    copy the files backend's documents (stateDir/state/, or --from DIR), intents, live DHCP
          leases and plugins' records into PostgreSQL; what exists there is kept, a differing one is
          listed as a conflict (exit 1); safe to run again; --dry-run writes nothing
The password comes from state.passwordFile or $PGPASSWORD (state.passwordEnv) and is never printed.
`,
  machines: `Usage: bootpolicy machines [--format text|json]

Lists the machines the running server's timeline knows, most recently seen first: id (the MAC, or
ip:<address> while no MAC is known for it), state (seen, booting, installing, installed, failed,
stuck), last seen, the last decision (kind, by whom, policy revision) and the intent. A client of
/api/machines, with the server and token rules of \`bootpolicy intent\`.
Options:
  --server URL          the server (default http://<http.host>:<http.port>)
${CONFIG}${FORMAT}`,
  timeline: `Usage: bootpolicy timeline <MAC> [--format text|json]

Prints one machine's events, oldest first: DHCP messages and replies, TFTP transfers, /boot.ipxe,
/boot decisions with the policy trace, /files downloads, logins, intent changes and callbacks.
A client of /api/machines/<MAC>/timeline, with the server and token rules of \`bootpolicy intent\`.
Options:
  --server URL          the server (default http://<http.host>:<http.port>)
${CONFIG}${FORMAT}`,
  help: 'Usage: bootpolicy help [COMMAND]\n',
}
