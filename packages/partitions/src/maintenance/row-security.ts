import type { ParentTable } from '../catalog/parent.js'
import { quote } from '../spec/identifiers.js'

/**
 * The parent's row security for a new partition (a quoted `schema.name`): RLS enabled (and
 * forced) as on the parent, and each of its policies. PostgreSQL applies a parent's policies
 * only to queries through the parent; the partition gets the parent's grants, so without
 * them a role the policies restrict would read every row by naming the partition.
 *
 * @example
 * ```ts
 * rowSecurity(parent, '"public"."messages_p20270101"') // ['alter table ... enable row level security', 'create policy ...']
 * ```
 */
export function rowSecurity({ rowSecurity: security }: ParentTable, table: string): string[] {
  const statements: string[] = []
  if (security.enabled) statements.push(`alter table ${table} enable row level security`)
  if (security.forced) statements.push(`alter table ${table} force row level security`)
  for (const policy of security.policies) {
    const roles = policy.roles.map((role) => (role === 'public' ? 'public' : quote(role)))
    statements.push(
      [
        `create policy ${quote(policy.name)} on ${table} as ${policy.permissive.toLowerCase()}`,
        `for ${policy.command.toLowerCase()} to ${roles.join(', ')}`,
        ...(policy.using === null ? [] : [`using (${policy.using})`]),
        ...(policy.check === null ? [] : [`with check (${policy.check})`]),
      ].join(' '),
    )
  }
  return statements
}
