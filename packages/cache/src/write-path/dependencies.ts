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
 * What PostgreSQL's catalog says a write to a relation also changes, by relation
 * (`schema.name`). `writes`: the relations whose rows it writes too — children of foreign keys
 * with `ON DELETE` / `ON UPDATE` `CASCADE`, `SET NULL` or `SET DEFAULT`, the partitions (and
 * inheritance children) of a parent, the relations a view reads (a write through an updatable
 * view, or one with `INSTEAD OF` triggers). `visible`: the relations whose reads show the
 * change without being written — the views and materialized views over it, the parent of a
 * partition.
 */
export interface CatalogDependencies {
  readonly writes: Record<string, string[]>
  readonly visible: Record<string, string[]>
}

/**
 * Reads {@link CatalogDependencies} from PostgreSQL's catalog. Triggers are not followed
 * (their effects are code): declare those with the `dependencies` option.
 *
 * @example
 * ```ts
 * const { writes } = await readDependencies(database.primary) // { 'public.users': ['public.posts'] }
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: any typed Kysely<DB>, as Kysely's own migrator takes.
export async function readDependencies(db: Kysely<any>): Promise<CatalogDependencies> {
  const named = (alias: string) => sql.raw(`${alias}n.nspname || '.' || ${alias}.relname`)
  const { rows } = await sql<{ source: string; changed: string; kind: 'fk' | 'v' | 'm' | 'p' }>`
    select ${named('p')} as source, ${named('c')} as changed, 'fk' as kind
    from pg_constraint k
    join pg_class c on c.oid = k.conrelid join pg_namespace cn on cn.oid = c.relnamespace
    join pg_class p on p.oid = k.confrelid join pg_namespace pn on pn.oid = p.relnamespace
    where k.contype = 'f' and (k.confdeltype in ('c', 'n', 'd') or k.confupdtype in ('c', 'n', 'd'))
    union
    select ${named('s')}, ${named('v')}, v.relkind::text
    from pg_depend d
    join pg_rewrite r on r.oid = d.objid
    join pg_class v on v.oid = r.ev_class join pg_namespace vn on vn.oid = v.relnamespace
    join pg_class s on s.oid = d.refobjid join pg_namespace sn on sn.oid = s.relnamespace
    where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
      and v.oid <> s.oid and v.relkind in ('v', 'm')
    union
    select ${named('p')}, ${named('c')}, 'p'
    from pg_inherits i
    join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace
    join pg_class c on c.oid = i.inhrelid join pg_namespace cn on cn.oid = c.relnamespace
  `.execute(db)
  const writes: Record<string, string[]> = {}
  const visible: Record<string, string[]> = {}
  const add = (into: Record<string, string[]>, from: string, to: string) => {
    const list = into[from] ?? []
    if (!list.includes(to)) list.push(to)
    into[from] = list
  }
  for (const { source, changed, kind } of rows) {
    if (kind === 'fk') add(writes, source, changed)
    if (kind === 'v') add(writes, changed, source) // a write through the view reaches `source`
    if (kind === 'v' || kind === 'm') add(visible, source, changed)
    if (kind === 'p') {
      add(writes, source, changed) // a write to the parent lands in one of its partitions
      add(visible, changed, source) // a partition's rows are its parent's
    }
  }
  return { writes, visible }
}
