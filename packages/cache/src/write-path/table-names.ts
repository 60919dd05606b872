import { type Kysely, sql } from 'kysely'
import {
  type CatalogDependencies,
  mergeDependencies,
  readDependencies,
  type TableDependencies,
} from './dependencies.js'
import { nameParts, tagOf } from './table-tag.js'

/** What the catalog says about table names: the search path, and each name's schemas. */
interface NameCatalog {
  readonly searchPath: readonly string[]
  readonly schemasOf: ReadonlyMap<string, ReadonlySet<string>>
}

/**
 * Table names to tags, and the tables a write to a table also changes: from declared
 * dependencies, and once {@link learn} has read the catalog, from it (foreign-key actions,
 * views, the search path an unqualified name is resolved on). A name resolves to the first
 * schema of the search path holding a table (view, ...) of that name; one the catalog does not
 * know (created since) keeps {@link tableTag}'s reading.
 *
 * @example
 * ```ts
 * const tables = new TableNames({ orders: ['order_totals'] })
 * await tables.learn(database.db)
 * tables.dependents(['orders']) // ['table:orders', 'table:order_totals']
 * ```
 */
export class TableNames {
  readonly #declared: TableDependencies
  #catalog: NameCatalog | undefined
  /** By tag, the tables a write to it writes too (see {@link CatalogDependencies}). */
  #writes: Map<string, string[]>
  /** By tag, the relations whose reads show a write to it (views over it, its parent). */
  #visible = new Map<string, string[]>()
  readonly #resolved = new Map<string, string>()

  constructor(declared: TableDependencies) {
    this.#declared = declared
    this.#writes = mergeDependencies(new Map(), declared, (table) => this.tag(table))
  }

  /** The tag of the table `table` names. */
  tag(table: string): string {
    const known = this.#resolved.get(table)
    if (known !== undefined) return known
    const { schema, name } = nameParts(table)
    const catalog = this.#catalog
    const found = schema ?? catalog?.searchPath.find((s) => catalog.schemasOf.get(name)?.has(s))
    const tag = tagOf(found, name)
    if (catalog) {
      if (this.#resolved.size >= 10_000) this.#resolved.clear()
      this.#resolved.set(table, tag)
    }
    return tag
  }

  /**
   * The tags of `tables`, of every table a write to them writes too, transitively, and of the
   * relations whose reads show any of those writes (a partition's siblings, or a view's other
   * base tables, are not among them).
   */
  dependents(tables: readonly string[]): string[] {
    const tags = new Set(tables.map((table) => this.tag(table)))
    for (const tag of tags) for (const next of this.#writes.get(tag) ?? []) tags.add(next)
    for (const tag of tags) for (const next of this.#visible.get(tag) ?? []) tags.add(next)
    return [...tags]
  }

  /** Reads the catalog (through `db`, as the application's connections see it). */
  // biome-ignore lint/suspicious/noExplicitAny: any typed Kysely<DB>, as Kysely's own migrator takes.
  async learn(db: Kysely<any>): Promise<void> {
    const [learned, path, tables] = await Promise.all([
      readDependencies(db),
      sql<{ schemas: string[] }>`select current_schemas(false)::text[] as schemas`.execute(db),
      sql<{ schema: string; name: string }>`
        select n.nspname as schema, c.relname as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f')
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
      `.execute(db),
    ])
    const schemasOf = new Map<string, Set<string>>()
    for (const { schema, name } of tables.rows) {
      const schemas = schemasOf.get(name) ?? new Set()
      schemas.add(schema)
      schemasOf.set(name, schemas)
    }
    this.#catalog = { searchPath: path.rows[0]?.schemas ?? [], schemasOf }
    this.#resolved.clear()
    const tag = (table: string) => this.tag(table)
    const writes = mergeDependencies(new Map(), learned.writes, tag)
    this.#writes = mergeDependencies(writes, this.#declared, tag)
    this.#visible = mergeDependencies(new Map(), learned.visible, tag)
  }
}
