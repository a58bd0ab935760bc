/** The ldap plugin's own codes (namespace LDAP), documented in README.md, "Error codes". */
import { defineErrors } from 'bootpolicy/plugin'

export const errors = defineErrors('LDAP', {
  BPSEC_LDAP_TLS_UNVERIFIED: {
    message: 'LDAP TLS certificate verification is off',
    when: "`tls.rejectUnauthorized` is false, so the directory server is not authenticated. Logged at startup (formerly core's BPSEC004).",
    fix: "Give the directory's CA in `tls.ca` and remove `rejectUnauthorized: false`.",
  },
})
