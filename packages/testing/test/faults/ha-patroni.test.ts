import { expect, it } from 'vitest'
import { type PatroniCluster, startPostgres } from '../../src/index.js'
import { haSuite } from './ha-suite.js'

// A Patroni cluster is its own topology (etcd, three nodes, synchronous_mode): it runs on
// PostgreSQL 15 only (Debian's Patroni drives the system server), from test/faults/; the
// testing package has no production profile. synchronous_mode keeps one synchronous standby.
haSuite(
  () => startPostgres({ ha: 'patroni', nodes: 3 }),
  ['sync', 'async'],
  (cluster) => {
    it("exposes each node's REST /cluster, which names the primary as leader", async () => {
      const ha = cluster() as PatroniCluster
      const primary = await ha.waitForPrimary()
      const url = ha.clusterUrls()[ha.nodes.indexOf(primary)]
      const { members } = (await (await fetch(url as string)).json()) as {
        members: { name: string; role: string; port: number }[]
      }
      expect(members.find((m) => m.role === 'leader')).toMatchObject({
        name: primary.name,
        port: primary.port,
      })
    })
  },
)
