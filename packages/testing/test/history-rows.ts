import type { History, Operation } from '../src/history/index.js'

/** A hand-built history: `[actor, kind, key, version, start, end, ok?]` per operation. */
type Row = [string, Operation['kind'], string, number | undefined, number, number, boolean?]
export const history = (rows: Row[], handOffs: History['handOffs'] = []): History => ({
  operations: rows.map(([actor, kind, key, version, start, end, ok = true], i) => ({
    id: i + 1,
    actor,
    kind,
    key,
    version,
    start,
    end,
    ok,
  })),
  handOffs,
})
