// A minimal keep-alive upstream in its own process, so the benchmark measures the client, not a server
// sharing its event loop. Prints its port on stdout.
import http from 'node:http'

const body = JSON.stringify({ ok: true, items: Array.from({ length: 8 }, (_, i) => ({ id: i, name: `item-${i}` })) })
const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)))
process.on('disconnect', () => process.exit(0))
