import { Counter, type Registry } from 'prom-client';

/** One pre-bound label set of a {@link SlotCounter}: the hot path adds to `value`, nothing else. */
export interface CounterSlot {
  value: number;
}

/**
 * A Prometheus counter whose label sets are bound once, as plain slots. Counting is one addition to
 * a number, with no label object, hash or string built per event; prom-client reads the slots only
 * when the registry is scraped.
 */
export class SlotCounter<L extends string> {
  private readonly slots: { labels: Record<L, string>; slot: CounterSlot }[] = [];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
    const slots = this.slots;
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, slot } of slots) this.inc(labels, slot.value);
      },
    });
  }

  /** A new slot for this label set (call once per label set, then keep it). It shows as 0 until counted. */
  slot(labels: Record<L, string>): CounterSlot {
    const slot = { value: 0 };
    this.slots.push({ labels: Object.freeze({ ...labels }), slot });
    return slot;
  }
}

/** The label value every value past a {@link BoundedLabel}'s cap is folded into. */
export const OTHER = 'other';

/**
 * A label whose distinct values are capped: the first `cap` values seen keep their own entry, every
 * later one shares the `other` entry, so no input can grow a metric's series without bound.
 */
export class BoundedLabel<T> {
  private readonly entries = new Map<string, T>();
  private other?: T;

  constructor(
    private readonly cap: number,
    private readonly create: (value: string) => T,
  ) {}

  /** The entry for `value`: its own while under the cap, else the shared `other` one. */
  get(value: string): T {
    const entry = this.entries.get(value);
    if (entry !== undefined) return entry;
    // A value that is itself `other` shares the fold's entry: one series per label set, never two.
    if (value === OTHER || this.entries.size >= this.cap) return (this.other ??= this.create(OTHER));
    const created = this.create(value);
    this.entries.set(value, created);
    return created;
  }

  /** Distinct values with an entry of their own. */
  get size(): number {
    return this.entries.size;
  }
}
