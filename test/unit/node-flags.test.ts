import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SERVER_NODE_FLAGS } from '../../src/node-flags'
import { rootDir } from '../../src/paths'

// `npm start` runs the server with the flags the benchmarks start it with (src/node-flags.ts).

t.test('npm start, and the benchmarks that run the app in their own process, pass the server\'s node flags', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.ok(SERVER_NODE_FLAGS.includes('--no-allocation-site-pretenuring'))
  t.match(scripts.start, ` node ${SERVER_NODE_FLAGS.join(' ')} dist/src/server.js`)
  for (const name of ['bench', 'bench:bulk', 'bench:import']) t.match(scripts[name], SERVER_NODE_FLAGS.join(' '), name)
})
