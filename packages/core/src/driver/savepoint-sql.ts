import {
  type CompiledQuery,
  createQueryId,
  IdentifierNode,
  type QueryCompiler,
  RawNode,
} from 'kysely'

/** Compiles `SAVEPOINT name`, `ROLLBACK TO name` or `RELEASE name` with a quoted identifier. */
export function savepointSql(
  command: 'savepoint' | 'rollback to' | 'release',
  name: string,
  compile: QueryCompiler['compileQuery'],
): CompiledQuery {
  const node = RawNode.create([`${command} `, ''], [IdentifierNode.create(name)])
  return compile(node, createQueryId())
}
