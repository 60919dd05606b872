import { literal, qualified, quote } from '../spec/identifiers.js'
import type { PartitionSpec } from '../spec/spec.js'
import type { Statement } from './plan.js'
import { withinName } from './relations.js'

/** The transaction an archive's rename, index renames and move share (no half-moved table). */
const ARCHIVE_GROUP = -1

/**
 * Drop or archive a detached partition. An archive name already taken gets a suffix, and so
 * does each of the table's indexes whose name the archive schema already has (index names
 * are unique per schema too); the renames, the move and the record of the archive's parent
 * (`sluice_partitions.archived`, which `listPartitions` reads) share one transaction,
 * so an interrupted archive leaves the table as it was, for the next run to archive.
 *
 * @example
 * ```ts
 * retireStatements(messages, 'public', 'messages_p20250101', new Map()) // [{ sql: 'drop table if exists ...' }]
 * ```
 */
export function retireStatements(
  spec: PartitionSpec,
  schema: string,
  name: string,
  names: Map<string, string>,
): Statement[] {
  const mode = spec.retention?.mode ?? 'drop'
  if (mode === 'drop') return [{ sql: `drop table if exists ${qualified(schema, name)}` }]
  const archive = spec.retention?.archiveSchema
  if (mode !== 'archive' || !archive) return []
  let target = name
  for (
    let n = 2;
    names.has(`${archive}.${target}`) || (target !== name && names.has(target));
    n++
  ) {
    target = withinName(name, `_a${n}`)
  }
  names.set(`${archive}.${target}`, 'taken')
  const group = ARCHIVE_GROUP
  return [
    { sql: `create schema if not exists ${quote(archive)}` },
    ...(target === name
      ? []
      : [{ sql: `alter table ${qualified(schema, name)} rename to ${quote(target)}`, group }]),
    { sql: freeIndexNames(schema, target, archive), group },
    { sql: `alter table ${qualified(schema, target)} set schema ${quote(archive)}`, group },
    {
      sql: `insert into sluice_partitions.archived values (${literal(archive)}, ${literal(target)}, ${literal(spec.schema)}, ${literal(spec.table)}) on conflict (schema_name, table_name) do update set parent_schema = excluded.parent_schema, parent_table = excluded.parent_table`,
      group,
    },
  ]
}

/** Renames the table's indexes whose names `archive` already has to `<name>_aN`, free in both schemas. */
function freeIndexNames(schema: string, table: string, archive: string): string {
  const taken = (what: string) =>
    `exists (select 1 from pg_class c join pg_namespace s on s.oid = c.relnamespace
      where s.nspname in (${literal(schema)}, ${literal(archive)}) and c.relname = ${what})`
  return `do ${literal(`declare index_name text; fresh text; n int; begin
  for index_name in select c.relname from pg_index x join pg_class c on c.oid = x.indexrelid
    where x.indrelid = ${literal(qualified(schema, table))}::regclass loop
    continue when not exists (select 1 from pg_class c join pg_namespace s on s.oid = c.relnamespace
      where s.nspname = ${literal(archive)} and c.relname = index_name);
    n := 2;
    loop
      fresh := index_name; -- shortened by whole characters to 63 bytes with its suffix
      while octet_length(fresh || '_a' || n) > 63 loop fresh := left(fresh, -1); end loop;
      fresh := fresh || '_a' || n;
      exit when not ${taken('fresh')};
      n := n + 1;
    end loop;
    execute format('alter index %I.%I rename to %I', ${literal(schema)}, index_name, fresh);
  end loop;
end`)}`
}

/**
 * @example
 * ```ts
 * forget('public', 'messages_p20250101').sql // 'delete from sluice_partitions.retiring where ...'
 * ```
 */
export function forget(schema: string, name: string): Statement {
  return {
    sql: `delete from sluice_partitions.retiring where schema_name = ${literal(schema)} and table_name = ${literal(name)}`,
  }
}
