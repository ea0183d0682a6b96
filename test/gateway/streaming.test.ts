import t from 'tap'
import { request } from 'node:http'
import { connect } from 'node:net'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { makeApp } from '../helpers'
import { gatewayWorld, startBackend, type Seen } from '../fixtures/gateway'

// Bodies far larger than the process should ever hold: if the gateway buffered one, the memory
// used during the transfer would grow by about its size.
const MB = 1024 * 1024
const SIZE_MB = 200
const CHUNK = Buffer.alloc(256 * 1024, 'p')

function memory (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

t.test(`${SIZE_MB} MB up and ${SIZE_MB} MB down through the gateway, streamed: memory stays far below the body's size`, async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  global.gc?.()
  const before = memory()
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, memory()) }, 20)
  t.teardown(() => { clearInterval(sampler) })

  // Upload: a generated body, sent chunked (no length known in advance).
  const sent = createHash('sha256')
  let left = SIZE_MB * MB
  const body = new Readable({
    read () {
      if (left <= 0) { this.push(null); return }
      left -= CHUNK.length
      sent.update(CHUNK)
      this.push(CHUNK)
    }
  })
  const uploaded = await new Promise<{ status: number, text: string }>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'PUT', path: '/gateway/books/upload', headers: { 'ocp-apim-subscription-key': world.primary, 'content-type': 'application/octet-stream' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text }) })
    })
    req.on('error', reject)
    body.pipe(req)
  })
  t.equal(uploaded.status, 200)
  const seen = JSON.parse(uploaded.text) as Seen
  t.equal(seen.bytes, SIZE_MB * MB, 'every byte arrived')
  t.equal(seen.sha256, sent.digest('hex'), 'and in order')

  // Download: the backend generates it, the caller counts it.
  const downloaded = await new Promise<{ status: number, bytes: number }>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: `/gateway/books/download?mb=${SIZE_MB}`, headers: { 'ocp-apim-subscription-key': world.primary } }, (res) => {
      let bytes = 0
      res.on('data', (c: Buffer) => { bytes += c.length })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, bytes }) })
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(downloaded.status, 200)
  t.equal(downloaded.bytes, SIZE_MB * MB, 'every byte came back')
  clearInterval(sampler)
  const grew = (peak - before) / MB
  t.ok(grew < SIZE_MB / 2, `memory grew by at most ${grew.toFixed(0)} MB while ${SIZE_MB} MB went each way`)
})

t.test('a raw request with a dot segment never reaches the backend', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  for (const path of ['/gateway/books/../admin', '/gateway/books/%2e%2e/admin', '/gateway/books/a/..%2f..%2fadmin']) {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: ${world.primary}\r\nConnection: close\r\n\r\n`)
      })
      let text = ''
      socket.on('data', (c: Buffer) => { text += c.toString() })
      socket.on('end', () => { resolve(text) })
      socket.on('error', reject)
    })
    t.match(answer, /^HTTP\/1\.1 400 /, `${path} → 400`)
  }
  t.equal(backend.seen.length, 0)
})
