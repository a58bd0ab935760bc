/**
 * The fw_cfg file OVMF's HTTPS boot reads its trusted CAs from (`etc/edk2/https/cacerts`,
 * OvmfPkg TlsAuthConfigLib): an EFI_SIGNATURE_LIST of X.509 certificates, the format
 * `p11-kit extract --format=edk2-cacerts` writes. Built here so a test can trust a fresh
 * self-signed certificate without p11-kit.
 */
import { X509Certificate } from 'node:crypto'

/** EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072 in its in-memory (mixed-endian) form. */
const EFI_CERT_X509_GUID = guidBytes('a5c059a1-94e4-4aa7-87b5-ab155c2bf072')
/** Any owner GUID will do; OVMF does not look at it. */
const OWNER = guidBytes('b9a1d3a4-2e1f-4c63-9a53-626f6f74706f')

function guidBytes(guid: string): Buffer {
  const hex = guid.replaceAll('-', '')
  const b = Buffer.from(hex, 'hex')
  // EFI_GUID: Data1 (u32), Data2, Data3 (u16) little-endian; Data4 as bytes.
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)])
}

/** One EFI_SIGNATURE_LIST per certificate (PEM or DER in), concatenated. */
export function edk2CaCerts(certs: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(
    certs.map((c) => {
      const der = new X509Certificate(c).raw
      const header = Buffer.alloc(28)
      EFI_CERT_X509_GUID.copy(header, 0)
      header.writeUInt32LE(28 + 16 + der.length, 16) // SignatureListSize
      header.writeUInt32LE(0, 20) // SignatureHeaderSize
      header.writeUInt32LE(16 + der.length, 24) // SignatureSize: owner GUID + data
      return Buffer.concat([header, OWNER, der])
    }),
  )
}
