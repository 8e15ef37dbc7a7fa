import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A self-signed certificate for 127.0.0.1 and localhost, and where its PEM files are (for NODE_EXTRA_CA_CERTS). */
export interface TestCertificate {
  readonly key: string
  readonly cert: string
  readonly certPath: string
  remove(): void
}

/** Made by openssl (`scripts/ensure-tools.mjs` installs it), valid for a day, for loopback TLS upstreams. */
export function createTestCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'staleguard-cert-'))
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  )
  return {
    key: readFileSync(keyPath, 'utf8'),
    cert: readFileSync(certPath, 'utf8'),
    certPath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** A certificate authority of the test's own, a server certificate for 127.0.0.1 and a client certificate, both signed by it. */
export interface TestPki {
  /** The CA's certificate (PEM): what both ends trust. */
  readonly ca: string
  readonly server: { readonly key: string; readonly cert: string }
  readonly client: { readonly key: string; readonly cert: string }
  remove(): void
}

/** Made by openssl, valid for a day: for mTLS upstreams that accept only clients the CA signed. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'staleguard-pki-'))
  const file = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir })
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(
    'req',
    '-x509',
    ...ecKey,
    '-days',
    '1',
    '-subj',
    '/CN=staleguard test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  )
  const sign = (name: string, subject: string, extensions: string) => {
    openssl('req', ...ecKey, '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`)
    writeFileSync(file(`${name}.ext`), extensions)
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    )
    return { key: readFileSync(file(`${name}.key`), 'utf8'), cert: readFileSync(file(`${name}.pem`), 'utf8') }
  }
  const server = sign(
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  )
  const client = sign('client', '/CN=staleguard test client', 'extendedKeyUsage=clientAuth\n')
  return {
    ca: readFileSync(file('ca.pem'), 'utf8'),
    server,
    client,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
