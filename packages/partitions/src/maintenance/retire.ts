import { literal, qualified, quote } from '../spec/identifiers.js'
import type { PartitionSpec } from '../spec/spec.js'
import type { Statement } from './plan.js'

/** Drop or archive a detached partition (an archive name already taken gets a suffix). */
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
    target = `${name.slice(0, 58)}_a${n}`
  }
  names.set(`${archive}.${target}`, 'taken')
  return [
    { sql: `create schema if not exists ${quote(archive)}` },
    ...(target === name
      ? []
      : [{ sql: `alter table ${qualified(schema, name)} rename to ${quote(target)}` }]),
    { sql: `alter table ${qualified(schema, target)} set schema ${quote(archive)}` },
  ]
}

export function forget(schema: string, name: string): Statement {
  return {
    sql: `delete from sluice_partitions.retiring where schema_name = ${literal(schema)} and table_name = ${literal(name)}`,
  }
}
