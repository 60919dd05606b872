declare const database: SluiceDatabase<DB>

declare const db: Kysely<DB>

declare const pool: import('pg').Pool

declare const client: import('pg').Client

declare const cache: Cache

declare const options: { afterCommit?: unknown; ttlMs?: number }

declare const target: TargetConfig

declare let useTls: boolean

declare const compiled: import('kysely').CompiledQuery

declare const readRows: () => Promise<unknown[]>

declare function rotateCredentials(): void

declare const tracingHooks: Instrumentation

declare const prometheusHooks: Instrumentation

declare const controller: AbortController

declare const timeoutMs: number
