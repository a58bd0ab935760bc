/**
 * tgtd's management protocol, spoken directly over its unix socket, so that a CHAP secret never
 * becomes a command-line argument (tgtadm takes it only as `--password`, which every local user
 * can read in /proc/<pid>/cmdline and sudo writes to auth.log).
 *
 * The wire format is tgt's `struct tgtadm_req` (usr/tgtadm.h, 120 bytes, host byte order, x86-64
 * alignment) followed by tgtadm's parameter string (`user=…,password=…`, NUL-terminated; none for `show`); the
 * answer is `struct tgtadm_rsp` (`err`, `len`) plus `len - 8` bytes of text. The socket is
 * `/var/run/tgtd/socket.<control port>`; tgtd accepts only a peer running as root. Checked
 * byte for byte against tgt 1.0.85's tgtadm (test/tgtd-control.test.ts).
 */
import { connect } from 'node:net'
import type { BootpolicyError } from 'bootpolicy/plugin'
import { errors } from './errors.js'

export const MODE = { system: 0, target: 1, device: 2, portal: 3, lld: 4, session: 5, connection: 6, account: 7 } as const
export const OP = { new: 0, delete: 1, show: 2, bind: 3, unbind: 4, update: 5 } as const

const REQ_SIZE = 120
const RSP_SIZE = 8
/** tgtadm's BUFSIZE for the parameter string; tgtd's reply text is bounded by us, not by it. */
const MAX_PARAMS = 4096
const MAX_REPLY = 1 << 20

/**
 * tgtadm 1.0.85's wording of tgtd's error numbers (measured: real tgtadm against a socket that
 * answers each number; see test/tgtd-control.test.ts), so callers can match "already exists".
 */
export const ERRORS: readonly string[] = [
  'success',
  'unknown error',
  'out of memory',
  "can't find the driver",
  "can't find the target",
  "can't find the logical unit",
  "can't find the session",
  "can't find the connection",
  "can't find the binding",
  'this target already exists',
  'this logical unit number already exists',
  'this binding already exists',
  'this access control rule already exists',
  'this access control rule does not exist',
  'this account already exists',
  "can't find the account",
  'too many accounts',
  'invalid request',
  'this target already has an outgoing account',
  'this target is still active',
  'this logical unit is still active',
  'this driver is busy',
  "this operation isn't supported",
  'unknown parameter',
  'this device has Prevent Removal set',
]

export interface TgtdRequest {
  readonly mode: number
  readonly op: number
  /** -1 (tgtadm's "none"); account bind without a tid uses GLOBAL_TID. */
  readonly tid?: number
  readonly sid?: bigint
  readonly lun?: bigint
  readonly cid?: number
  readonly force?: boolean
  /** `key=value` pairs in tgtadm's order; values must not contain `,` or NUL. */
  readonly params: ReadonlyArray<readonly [string, string]>
}

/** The request bytes tgtadm would send for the same command. */
export function encodeRequest(req: TgtdRequest): Buffer {
  for (const [k, v] of req.params) {
    // tgtd splits the parameter string on `,` and `=`: such a value would inject parameters.
    if (/[,=\0]/.test(k) || /[,\0]/.test(v)) throw new RangeError(`tgtd parameter ${k} holds a character tgtd would split on`)
  }
  // tgtadm counts the string's NUL in `len` only when there is a string.
  const params = req.params.length ? Buffer.from(`${req.params.map(([k, v]) => `${k}=${v}`).join(',')}\0`, 'utf8') : Buffer.alloc(0)
  if (params.length > MAX_PARAMS) throw new RangeError(`tgtd parameters exceed ${MAX_PARAMS} bytes`)
  const buf = Buffer.alloc(REQ_SIZE + params.length)
  buf.writeUInt32LE(req.mode, 0)
  buf.writeUInt32LE(req.op, 4)
  buf.write('iscsi', 8, 'latin1') // lld[64]
  buf.writeUInt32LE(buf.length, 72) // len
  buf.writeInt32LE(req.tid ?? -1, 76)
  buf.writeBigUInt64LE(req.sid ?? 0n, 80)
  buf.writeBigUInt64LE(req.lun ?? 0xffffffffffffffffn, 88)
  buf.writeUInt32LE(req.cid ?? 0, 96)
  // host_no 100, device_type 104 (TYPE_DISK = 0), ac_dir 108 (incoming = 0), pack 112: all 0.
  buf.writeUInt32LE(req.force ? 1 : 0, 116)
  params.copy(buf, REQ_SIZE)
  return buf
}

export function socketPath(controlPort = 0): string {
  return `/var/run/tgtd/socket.${controlPort}`
}

export interface TgtdReply {
  readonly err: number
  readonly text: string
}

/** One request, one reply. Rejects with BP_ERR_ISCSI_COMMAND; `what` names the call in errors (no secrets). */
export function tgtdRequest(req: TgtdRequest, options: { controlPort?: number; timeoutMs: number; what: string }): Promise<TgtdReply> {
  const path = socketPath(options.controlPort)
  const fail = (exitCode: string | number, details: string): BootpolicyError => errors.create('BP_ERR_ISCSI_COMMAND', { command: `tgtd ${options.what}`, exitCode, details })
  let bytes: Buffer
  try {
    bytes = encodeRequest(req)
  } catch (err) {
    return Promise.reject(fail('EINVAL', (err as Error).message))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const sock = connect(path)
    const timer = setTimeout(() => finish(fail('ETIMEDOUT', `no answer from ${path} within ${options.timeoutMs} ms`)), options.timeoutMs)
    let done = false
    const finish = (err: BootpolicyError | undefined, reply?: TgtdReply): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      if (err) reject(err)
      else resolve(reply!)
    }
    sock.once('connect', () => sock.write(bytes))
    // Only the errno crosses: the socket error object is not attached (it holds nothing secret,
    // but no error of this module carries a cause, so none can ever carry the request).
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish(
        fail(err.code ?? 'unknown', `can't talk to tgtd at ${path}: ${err.code ?? 'error'}${err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is tgtd running with this control port?)' : ''}`),
      ),
    )
    sock.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size > MAX_REPLY) return finish(fail('EMSGSIZE', `tgtd's answer exceeds ${MAX_REPLY} bytes`))
      const all = Buffer.concat(chunks)
      if (all.length < RSP_SIZE) return
      const err = all.readUInt32LE(0)
      const len = all.readUInt32LE(4)
      if (err !== 0) return finish(fail(err, ERRORS[err] ?? `tgtd error ${err}`))
      if (len < RSP_SIZE || len > MAX_REPLY) return finish(fail('EPROTO', `tgtd answered a length of ${len}`))
      if (all.length >= len) finish(undefined, { err, text: all.subarray(RSP_SIZE, len).toString('utf8') })
    })
    sock.on('end', () => finish(fail('EPROTO', 'tgtd closed the socket before it answered')))
  })
}

/** `tgtadm --mode account --op new --user <user> --password <secret>`, without the argv. */
export async function newAccount(user: string, secret: string, options: { controlPort?: number; timeoutMs: number }): Promise<void> {
  await tgtdRequest(
    {
      mode: MODE.account,
      op: OP.new,
      params: [
        ['user', user],
        ['password', secret],
      ],
    },
    { ...options, what: `account new (user ${user})` },
  )
}
