import type { SemanticAnswer } from '../semantic/types.js';

/**
 * A bounded LRU of semantic verdicts. The key names everything a verdict depends on: agent, tool,
 * arguments, intent, the session history the verifier read, and the policy bundle in force (a new
 * bundle may ship a new verifier configuration), each as a digest.
 */
export class SemanticCache {
  private readonly entries = new Map<string, SemanticAnswer>();

  constructor(private readonly maxEntries: number) {}

  get(key: string): SemanticAnswer | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }

  set(key: string, answer: SemanticAnswer): void {
    if (this.maxEntries === 0) return;
    this.entries.delete(key);
    this.entries.set(key, answer);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
