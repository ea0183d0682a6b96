import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app'
import { loadConfig } from '../../src/config'

/** Runs a benchmark against the real app on a temporary data folder, closed and removed after. */
export async function withApp (env: Record<string, string>, bench: (app: FastifyInstance) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'))
  const app = await buildApp(loadConfig({ DATA_DIR: dir, ...env }))
  try {
    await bench(app)
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A benchmark's entry point: a failure prints its stack and exits 1. */
export function run (main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
