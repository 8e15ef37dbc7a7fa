import { Blob } from 'node:buffer'
import { randomBytes } from 'node:crypto'

/**
 * A FormData body, from any copy of undici (Node's global FormData, npm undici 7 or 8), as one Blob of its
 * multipart/form-data encoding. undici's Client recognises only its own copy's FormData when it writes a body
 * (its `extractBody`): handed another copy's, it fails the request (`action is not a function`). A Blob every
 * copy writes as it is, with its length and its type (the boundary) known up front; file parts stay Blobs,
 * read only as the body is written; and a retry sends the very same bytes, boundary included.
 *
 * The encoding is the one fetch uses (WHATWG: "multipart/form-data encoding algorithm", as undici's
 * `extractBody` writes it): names and file names escaped, line breaks in names and values made CRLF.
 */
export function formDataAsBlob(form: Iterable<[string, unknown]>): Blob {
  const boundary = `----formdata-staleguard-${randomBytes(16).toString('hex')}`
  const prefix = `--${boundary}\r\nContent-Disposition: form-data`
  const parts: (string | Blob)[] = []
  for (const [name, value] of form) {
    const disposition = `${prefix}; name="${escapeName(crlf(name))}"`
    if (typeof value === 'string') {
      parts.push(`${disposition}\r\n\r\n${crlf(value)}\r\n`)
    } else {
      const file = value as Blob & { name?: unknown }
      const filename = typeof file.name === 'string' && file.name !== '' ? `; filename="${escapeName(file.name)}"` : ''
      parts.push(
        `${disposition}${filename}\r\nContent-Type: ${file.type || 'application/octet-stream'}\r\n\r\n`,
        file,
        '\r\n',
      )
    }
  }
  parts.push(`--${boundary}--\r\n`)
  return new Blob(parts, { type: `multipart/form-data; boundary=${boundary}` })
}

/** Whether a body is a FormData of any copy (undici's own test: its tag and its methods). */
export function isFormData(body: object): body is Iterable<[string, unknown]> {
  const form = body as { [Symbol.toStringTag]?: unknown; append?: unknown; entries?: unknown }
  return (
    form[Symbol.toStringTag] === 'FormData' && typeof form.append === 'function' && typeof form.entries === 'function'
  )
}

const escapeName = (text: string): string => text.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22')
const crlf = (text: string): string => text.replace(/\r?\n|\r/g, '\r\n')
