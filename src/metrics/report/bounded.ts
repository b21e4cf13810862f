/**
 * Structures whose size does not grow with the log. Names that come from evidence (tools, agents,
 * signals) are mostly bounded by the registries, but a caller can ask for any tool name, and a call to
 * an unknown tool is still recorded under that name: so every keyed table has a cap.
 */

/** The row that collects every key past a table's cap. */
export const OTHER = '(other)';

/** Rows by key, at most `cap` of them: keys first seen after that share the {@link OTHER} row. */
export class CappedRows<T> {
  readonly rows = new Map<string, T>();
  /** Distinct keys folded into the other row (counted while it stays small enough to track). */
  overflowKeys = 0;
  private readonly seenOverflow = new Set<string>();

  constructor(
    private readonly cap: number,
    private readonly create: (key: string) => T,
  ) {}

  /** The row for `key`, created on first use, or the shared other row past the cap. */
  get(key: string): T {
    let row = this.rows.get(key);
    if (row) return row;
    if (this.rows.size < this.cap) {
      row = this.create(key);
      this.rows.set(key, row);
      return row;
    }
    if (this.seenOverflow.size < this.cap && !this.seenOverflow.has(key)) {
      this.seenOverflow.add(key);
      this.overflowKeys++;
    }
    row = this.rows.get(OTHER);
    if (!row) {
      row = this.create(OTHER);
      this.rows.set(OTHER, row);
    }
    return row;
  }
}

/** Counts by key, capped like {@link CappedRows}. */
export class CappedCounts {
  private readonly table: CappedRows<{ n: number }>;

  constructor(cap: number) {
    this.table = new CappedRows(cap, () => ({ n: 0 }));
  }

  add(key: string, n = 1): void {
    this.table.get(key).n += n;
  }

  /** Every key with its count, highest first (ties by key, so the output is stable). */
  sorted(): { key: string; count: number }[] {
    return [...this.table.rows]
      .map(([key, { n }]) => ({ key, count: n }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The counts as a plain object (keys in descending count order). */
  object(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { key, count } of this.sorted()) out[key] = count;
    return out;
  }
}

/** The last `cap` items added, oldest first. */
export class RecentItems<T> {
  private readonly items: T[] = [];
  private next = 0;
  total = 0;

  constructor(private readonly cap: number) {}

  add(item: T): void {
    this.total++;
    if (this.items.length < this.cap) this.items.push(item);
    else {
      this.items[this.next] = item;
      this.next = (this.next + 1) % this.cap;
    }
  }

  list(): T[] {
    return [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}
