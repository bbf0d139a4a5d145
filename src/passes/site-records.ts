// The retrofit's working set of site records, keyed by graph path and then node name.
//
// The records are written to the model's metadata in the order one Map keyed by "graph + node" would
// keep them (a new key goes last, setting an existing key keeps its place, deleting and setting again
// goes last): the JSON, and so the output bytes, depend on that order. Two levels of maps keep it
// without building and hashing a joined key string per site, which on a 128k-site graph was a
// measurable part of the pass; each entry carries its insertion number and `values()` sorts by it.

import type { SiteRecord } from '../retrofit/record.js';

interface Entry {
  record: SiteRecord;
  seq: number;
}

export class SiteRecords {
  private readonly byGraph = new Map<string, Map<string, Entry>>();
  private next = 0;
  private count = 0;

  /** Files `record` under its graph and node, replacing (in place) a record already there. */
  set(record: SiteRecord): void {
    let nodes = this.byGraph.get(record.graph);
    if (!nodes) this.byGraph.set(record.graph, (nodes = new Map()));
    const entry = nodes.get(record.node);
    if (entry) {
      entry.record = record;
      return;
    }
    nodes.set(record.node, { record, seq: this.next++ });
    this.count++;
  }

  /** Drops the record filed under `record`'s graph and node, if any. */
  delete(record: Pick<SiteRecord, 'graph' | 'node'>): void {
    const nodes = this.byGraph.get(record.graph);
    if (nodes?.delete(record.node)) this.count--;
  }

  get size(): number {
    return this.count;
  }

  /** The records in insertion order (see the file comment). */
  values(): SiteRecord[] {
    const entries: Entry[] = new Array<Entry>(this.count);
    let i = 0;
    for (const nodes of this.byGraph.values()) for (const e of nodes.values()) entries[i++] = e;
    // Usually one graph, already in order; sorting an ordered array is linear in V8's TimSort.
    entries.sort((a, b) => a.seq - b.seq);
    return entries.map((e) => e.record);
  }
}
