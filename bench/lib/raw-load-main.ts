/** `raw-load-main PORT COUNT CONNECTIONS [OFFSET]`: runs raw-load.ts and prints its result as JSON. */
import { rawLoad } from './raw-load.js'

const [port, count, connections, offset] = process.argv.slice(2).map(Number)
process.stdout.write(`${JSON.stringify(await rawLoad(port!, count!, connections!, offset ?? 0))}\n`)
