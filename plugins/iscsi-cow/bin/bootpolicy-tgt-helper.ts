#!/usr/bin/env node
/**
 * The narrow privileged helper: the one thing a non-root bootpolicy needs root for that involves
 * a secret — creating a tgtd CHAP account. It takes no arguments (so sudo's auth.log line holds
 * only its name) and reads one JSON request on stdin, `{"op":"account-new","user":…,"secret":…,
 * "controlPort":…}`, validated strictly: user names by the plugin's patterns, the secret by the
 * CHAP alphabet, nothing else allowed. It talks to tgtd over its socket (tgtd-control.ts), never
 * through tgtadm's argv. Exit 0: done; 1: tgtd refused (its message on stderr); 2: bad request.
 * Sudoers: README.md, "Privileges".
 */
import { parseHelperRequest } from '../helper-request.js'
import { newAccount } from '../tgtd-control.js'

const MAX_REQUEST = 4096

function refuse(message: string, code = 2): never {
  process.stderr.write(`bootpolicy-tgt-helper: ${message}\n`)
  process.exit(code)
}

async function main(): Promise<void> {
  if (process.argv.length > 2) refuse('takes no arguments; the request comes on stdin')
  let text = ''
  for await (const chunk of process.stdin) {
    text += String(chunk)
    if (text.length > MAX_REQUEST) refuse(`the request exceeds ${MAX_REQUEST} bytes`)
  }
  const req = parseHelperRequest(text)
  if (typeof req === 'string') refuse(req)
  try {
    await newAccount(req.user, req.secret, { ...(req.controlPort !== undefined && { controlPort: req.controlPort }), timeoutMs: 10_000 })
  } catch (err) {
    // BP_ERR_ISCSI_COMMAND's message holds the user and tgtd's wording, never the secret.
    refuse((err as Error).message, 1)
  }
}

await main()
