declare const database: RoutedDatabase<DB>

declare const other: RoutedDatabase<DB>

declare const db: Kysely<DB>

declare const pool: import('pg').Pool

declare const read: () => Promise<unknown>

declare function reload(): Promise<unknown>

declare const tokenFromRequest: string

declare const tokenFromStaging: string

declare const tokenOfInvalidation: string

declare const tokenOfSession: string

declare const lagGauge: import('prom-client').Gauge

declare const router: Parameters<typeof latestToken>[0]

declare const replicaPool: Parameters<typeof probeReplica>[0]

declare const replica: Parameters<typeof probeReplica>[1]

declare const primary: { lsn: Parameters<typeof probeReplica>[2] } | undefined
