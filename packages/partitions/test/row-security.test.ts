import { type Kysely, sql } from 'kysely'
import { expect, test } from 'vitest'
import { definePartitions, runMaintenance } from '../src/index.js'
import { freshDatabase } from './helpers.js'

// New partitions get the parent's grants; PostgreSQL applies the parent's row security only
// to queries through the parent, so they need its RLS and policies too: a tenant naming a
// partition must see no more than through the parent.
const NOVEMBER = new Date('2026-11-22T00:00:00Z')
const TENANT = 'sluice_rls_tenant'

async function tenantTable(db: Kysely<unknown>, defaultPartition: boolean) {
  // Roles are cluster-wide: created once per server, whichever file or run gets there first.
  await sql
    .raw(`do $$ begin create role ${TENANT}; exception when duplicate_object then null; end $$`)
    .execute(db)
  await sql`create table tenants (tenant text not null, at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  if (defaultPartition)
    await sql`create table tenants_default partition of tenants default`.execute(db)
  await sql`alter table tenants enable row level security`.execute(db)
  await sql`alter table tenants force row level security`.execute(db)
  await sql
    .raw(`create policy own on tenants for select to ${TENANT} using (tenant = current_user)`)
    .execute(db)
  await sql
    .raw(
      `create policy none_written on tenants as restrictive for insert to public with check (false)`,
    )
    .execute(db)
  await sql.raw(`grant select, insert on tenants to ${TENANT}`).execute(db)
  return definePartitions({
    table: 'tenants',
    column: 'at',
    interval: 'month',
    premake: 1,
    defaultPartition,
  })
}

/** What the tenant reads through the parent and by naming each partition. */
async function tenantReads(db: Kysely<unknown>, partitions: readonly string[]) {
  return db.transaction().execute(async (trx) => {
    await sql.raw(`set local role ${TENANT}`).execute(trx)
    const parent = await sql<{ tenant: string }>`select tenant from tenants`.execute(trx)
    let direct = 0
    for (const name of partitions) {
      const { rows } = await sql<{ tenant: string }>`select tenant from ${sql.table(name)}`.execute(
        trx,
      )
      expect(rows.every((row) => row.tenant === TENANT)).toBe(true)
      direct += rows.length
    }
    return { parent: parent.rows.length, direct }
  })
}

test('a new partition keeps the parent row security: enabled, forced and its policies', async () => {
  const { db } = await freshDatabase()
  const spec = await tenantTable(db, false)
  const result = await runMaintenance(db, [spec], { now: NOVEMBER })
  expect(result).toMatchObject({ created: ['tenants_p20261101', 'tenants_p20261201'], errors: [] })
  await sql`insert into tenants values (${TENANT}, '2026-11-23'), ('someone_else', '2026-11-23'), ('someone_else', '2026-12-02')`.execute(
    db,
  )
  expect(await tenantReads(db, result.created)).toEqual({ parent: 1, direct: 1 })
  const { rows } = await sql<{ name: string; rls: boolean; forced: boolean; policies: string[] }>`
    select c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
      array(select p.policyname::text from pg_policies p where p.tablename = c.relname order by 1) as policies
    from pg_class c where c.relname like 'tenants_p%' order by 1`.execute(db)
  expect(rows).toEqual(
    result.created.map((name) => ({
      name,
      rls: true,
      forced: true,
      policies: ['none_written', 'own'],
    })),
  )
})

test('a partition made for rows moved out of the default keeps the parent row security', async () => {
  const { db } = await freshDatabase()
  const spec = await tenantTable(db, true)
  await sql`insert into tenants values (${TENANT}, '2026-11-23'), ('someone_else', '2026-11-24')`.execute(
    db,
  )
  const result = await runMaintenance(db, [spec], { now: NOVEMBER })
  expect(result).toMatchObject({ movedRows: 2, errors: [] })
  expect(result.created).toContain('tenants_p20261101')
  expect(await tenantReads(db, result.created)).toEqual({ parent: 1, direct: 1 })
})
