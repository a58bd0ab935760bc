/** auth-kerberos's own codes (namespace KRB5), documented in README.md, "Error codes". */
import { defineErrors } from 'bootpolicy/plugin'

export const errors = defineErrors('KRB5', {
  BPSEC_KRB5_KDC_UNVERIFIED: {
    message: 'The KDC could not be verified with the service keytab',
    when: "The password was accepted, but no service ticket could be accepted with the keytab: the KDC may be spoofed, or the keytab is stale. The login is refused (formerly core's BPSEC003).",
    fix: 'Check that the keytab holds the current key (kvno) of the service principal and that the KDC is the real one.',
  },
})
