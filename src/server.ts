import { buildApp } from './app'
import { ConfigError, loadConfig } from './config'
import { loggerOptions } from './logging'

async function main (): Promise<void> {
  const config = loadConfig()
  const app = await buildApp(config, { logger: loggerOptions(config.logLevel) })

  const close = (signal: string): void => {
    app.log.info({ signal }, 'shutting down')
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', () => close('SIGINT'))
  process.once('SIGTERM', () => close('SIGTERM'))

  await app.listen({ port: config.port, host: config.host })
  if (app.gatewayServer !== null && config.gatewayPort !== null) await app.gatewayServer.listen({ port: config.gatewayPort, host: config.host })
  const setupNeeded = !(await app.services.accounts.hasAdministrator())
  process.stdout.write(`\nPortico is running: open ${config.publicUrl}${setupNeeded ? '/setup to create the first administrator' : ''}\n\n`)
}

main().catch((err: unknown) => {
  // Bad configuration is one clear line naming the variable; anything else says what failed.
  const reason = err instanceof ConfigError ? `Portico cannot start: ${err.message}` : `Portico failed to start: ${err instanceof Error ? err.message : String(err)}`
  process.stderr.write(reason + '\n')
  process.exit(1)
})
