import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The project folder, found from this file whether it runs from src/ or from the compiled dist/src/. */
function findRoot (from: string): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`package.json not found above ${from}`)
    dir = parent
  }
  return dir
}

export const rootDir = findRoot(__dirname)
export const viewsDir = join(rootDir, 'views')
export const publicDir = join(rootDir, 'public')
