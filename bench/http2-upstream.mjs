// An HTTP/2 (TLS) upstream in its own process for the h2 benchmark: the key and certificate come in the
// environment, it prints its port, and answers `sessions` over IPC with the sessions opened so far.
import http2 from 'node:http2'

const body = JSON.stringify({ ok: true, items: Array.from({ length: 8 }, (_, i) => ({ id: i, name: `item-${i}` })) })
const server = http2.createSecureServer({ key: process.env.BENCH_KEY, cert: process.env.BENCH_CERT }, (req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
let sessions = 0
server.on('session', () => sessions++)
server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)))
process.on('message', (message) => {
  if (message === 'sessions') process.send({ sessions })
})
process.on('disconnect', () => process.exit(0))
