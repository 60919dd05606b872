import { type Kysely, sql } from 'kysely'

/**
 * Tables whose rows change when another table is written, by table: a write to each key also
 * invalidates the listed tables' `table:` tags (`{ users: ['posts'] }`: deleting a user
 * removes its posts by `ON DELETE CASCADE`).
 */
export type TableDependencies = Readonly<Record<string, readonly string[]>>

/**
 * Adds `declared` to `into`, as tags (`tag`: {@link tableTag}, or one resolved on the catalog).
 *
 * @example
 * ```ts
 * mergeDependencies(new Map(), { users: ['posts'] }, tableTag) // table:users → [table:posts]
 * ```
 */
export function mergeDependencies(
  into: Map<string, string[]>,
  declared: TableDependencies,
  tag: (table: string) => string,
): Map<string, string[]> {
  for (const [table, changed] of Object.entries(declared)) {
    const key = tag(table)
    const list = into.get(key) ?? []
    for (const other of changed) if (!list.includes(tag(other))) list.push(tag(other))
    into.set(key, list)
  }
  return into
}

/**
 * What PostgreSQL's catalog says a write to a table also changes, by table (`schema.name`):
 * `changes`, the children of foreign keys with `ON DELETE` / `ON UPDATE` `CASCADE`, `SET NULL`
 * or `SET DEFAULT`, and the views and materialized views over a table; `underlying`, the
 * relations each view reads, which a write through the view (an updatable view, or one with
 * `INSTEAD OF` triggers) may change.
 */
export interface CatalogDependencies {
  readonly changes: Record<string, string[]>
  readonly underlying: Record<string, string[]>
}

/**
 * Reads {@link CatalogDependencies} from PostgreSQL's catalog. Triggers are not followed
 * (their effects are code): declare those with the `dependencies` option.
 *
 * @example
 * ```ts
 * const { changes } = await readDependencies(database.primary) // { 'public.users': ['public.posts'] }
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: any typed Kysely<DB>, as Kysely's own migrator takes.
export async function readDependencies(db: Kysely<any>): Promise<CatalogDependencies> {
  const { rows } = await sql<{ source: string; changed: string; view: boolean }>`
    select pn.nspname || '.' || p.relname as source, cn.nspname || '.' || c.relname as changed,
      false as view
    from pg_constraint k
    join pg_class c on c.oid = k.conrelid join pg_namespace cn on cn.oid = c.relnamespace
    join pg_class p on p.oid = k.confrelid join pg_namespace pn on pn.oid = p.relnamespace
    where k.contype = 'f' and (k.confdeltype in ('c', 'n', 'd') or k.confupdtype in ('c', 'n', 'd'))
    union
    select sn.nspname || '.' || s.relname, vn.nspname || '.' || v.relname, v.relkind = 'v'
    from pg_depend d
    join pg_rewrite r on r.oid = d.objid
    join pg_class v on v.oid = r.ev_class join pg_namespace vn on vn.oid = v.relnamespace
    join pg_class s on s.oid = d.refobjid join pg_namespace sn on sn.oid = s.relnamespace
    where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
      and v.oid <> s.oid and v.relkind in ('v', 'm')
  `.execute(db)
  const changes: Record<string, string[]> = {}
  const underlying: Record<string, string[]> = {}
  const add = (into: Record<string, string[]>, from: string, to: string) => {
    const list = into[from] ?? []
    if (!list.includes(to)) list.push(to)
    into[from] = list
  }
  for (const { source, changed, view } of rows) {
    add(changes, source, changed)
    if (view) add(underlying, changed, source) // a plain view: writes through it reach `source`
  }
  return { changes, underlying }
}
