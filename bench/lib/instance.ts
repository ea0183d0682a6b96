import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { freePort } from '../../test/fixtures/instance'
import { SERVER_NODE_FLAGS } from '../../src/node-flags'

export interface Instance {
  gatewayUrl: string
  /** Stops it: SIGTERM closes it (counts written), SIGKILL as a crash would. */
  stop: (signal: NodeJS.Signals) => Promise<void>
}

/** A Portico process (`npm start`'s compiled server, with its node flags) on this data, its gateway also on a port of its own. */
export async function startInstance (env: Record<string, string>): Promise<Instance> {
  const port = await freePort()
  const gatewayPort = await freePort()
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, join(__dirname, '..', '..', 'src', 'server.js')], {
    env: { PATH: process.env.PATH, PORT: String(port), GATEWAY_PORT: String(gatewayPort), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const seen = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Portico is running')) resolve()
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.once('exit', (code) => { reject(new Error(`instance exited (${String(code)}):\n${output}`)) })
  })
  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}/gateway`,
    stop: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    }
  }
}
