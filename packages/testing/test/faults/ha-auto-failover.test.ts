import { startPostgres } from '../../src/index.js'
import { haSuite } from './ha-suite.js'

// A pg_auto_failover formation is its own topology (a monitor, three nodes, the engine's
// synchronous replication): it runs on PostgreSQL 15 only (the engine's Debian package is built
// for the system server), from test/faults/; the testing package has no production profile.
// With number_sync_standbys 1 the primary waits for ANY 1 of the two standbys: both "quorum".
haSuite(() => startPostgres({ ha: 'pg_auto_failover', nodes: 3 }), ['quorum', 'quorum'])
