#!/usr/bin/env node
import { parseArgs } from 'node:util'
import type { PostgresEngine } from '../postgres/binaries.js'
import { type DevServers, envFileText, startDevServers } from './up.js'

const USAGE = `Usage: sluice-testing up [options]

Starts a PostgreSQL primary with streaming replicas, a Redis and a PgBouncer (transaction
mode) for local development, prints their variables and stops everything on Ctrl-C or SIGTERM.

Options:
  --replicas <n>       streaming replicas (default 2)
  --engine <name>      system, embedded or auto (default auto)
  --database <name>    the database to create (default app)
  --write-env <path>   also write the variables there as a .env file (mode 0600;
                       removed on stop). Not --env-file: Node 20 takes that for itself.
  -h, --help           this text
`

const ENGINES = ['system', 'embedded', 'auto']

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      replicas: { type: 'string', default: '2' },
      engine: { type: 'string', default: 'auto' },
      database: { type: 'string', default: 'app' },
      'write-env': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (positionals.length !== 1 || positionals[0] !== 'up')
    return usageError('expected the command "up"')
  if (!ENGINES.includes(values.engine))
    return usageError(`--engine must be one of ${ENGINES.join(', ')}`)
  const servers: DevServers = await startDevServers({
    replicas: /^\d+$/.test(values.replicas) ? Number(values.replicas) : Number.NaN,
    engine: values.engine as PostgresEngine,
    database: values.database,
    ...(values['write-env'] !== undefined && { envFile: values['write-env'] }),
  })
  process.stdout.write(envFileText(servers.env))
  process.stderr.write(`sluice-testing: ${servers.summary} are up; Ctrl-C stops them\n`)
  // `on`, not `once`: the fixtures' own exit hooks kill the servers at the first signal and
  // raise it again, which must not end the process before the env file is removed.
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGINT', resolve)
    process.on('SIGTERM', resolve)
  })
  await servers.stop()
  process.stderr.write(`sluice-testing: stopped (${signal})\n`)
  return 0
}

function usageError(message: string): number {
  process.stderr.write(`sluice-testing: ${message}\n\n${USAGE}`)
  return 2
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error & { code?: string }) => {
    const usage = error.code?.startsWith('ERR_PARSE_ARGS') || error.code === 'BAD_ARGUMENT'
    process.stderr.write(`sluice-testing: ${error.message}\n${usage ? `\n${USAGE}` : ''}`)
    process.exit(usage ? 2 : 1)
  },
)
