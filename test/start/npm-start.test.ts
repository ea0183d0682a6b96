import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, statSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'

// `npm start` as the README gives it: the first start builds, a second one with nothing changed
// rebuilds nothing (tsc's build mode sees the sources unchanged) and serves at once.
const ROOT = resolve(__dirname, '../..')

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Runs `npm start` until it says it is running; answers how long that took, then stops it. */
async function startOnce (t: Test, dataDir: string): Promise<number> {
  const port = await freePort()
  const started = Date.now()
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Portico is running')) resolve()
      })
      child.once('exit', (code) => { reject(new Error(`npm start exited (${String(code)}): ${output}`)) })
    })
    const elapsed = Date.now() - started
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    t.equal(health.status, 200, 'it serves')
    return elapsed
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM')
    await exited
  }
}

/** Every built file and when it was written. */
function builtFiles (): Map<string, number> {
  const files = new Map<string, number>()
  for (const name of readdirSync(join(ROOT, 'dist', 'src'), { recursive: true, encoding: 'utf8' })) {
    const path = join(ROOT, 'dist', 'src', name)
    const stat = statSync(path)
    if (stat.isFile()) files.set(name, stat.mtimeMs)
  }
  return files
}

t.test('a second npm start rebuilds nothing and serves', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'portico-start-'))
  const first = await startOnce(t, dataDir)
  const before = builtFiles()
  t.ok(before.has('server.js'), 'the first start built the server')
  const second = await startOnce(t, dataDir)
  const after = builtFiles()
  t.same([...after].filter(([name, written]) => before.get(name) !== written).map(([name]) => name), [], 'no file was written again')
  t.comment(`first start ${first} ms, second ${second} ms`)
})
