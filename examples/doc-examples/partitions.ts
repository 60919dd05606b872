declare const db: Kysely<DB>

declare const messages: PartitionSpec

declare const parent: ParentTable

declare const partition: NewPartition

declare const span: KeySpan

declare const triggers: DeleteTrigger[]

declare const auditLog: PartitionSpec
