import { createHash, hash as cryptoHash } from 'node:crypto';

/**
 * RFC 6962 / RFC 9162 §2.1 Merkle trees, as C2SP's merkle-tree.md specifies them: leaf hash
 * SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right), the empty tree SHA-256("").
 */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length > HASH_BYTES) return cryptoHash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
  scratch[0] = 0x00;
  scratch.set(data, 1);
  return cryptoHash('sha256', scratch.subarray(0, 1 + data.length), 'buffer');
}

/**
 * `leafHash(Buffer.from(hex, 'hex'))`, decoding 64 hex digits (a record's `hash`) straight into place;
 * anything else (a malformed hash in a log being verified) takes that longer way, with its result.
 */
export function leafHashOfHex(hex: string): Buffer {
  scratch[0] = 0x00;
  if (hex.length !== 2 * HASH_BYTES || scratch.write(hex, 1, HASH_BYTES, 'hex') !== HASH_BYTES) {
    return leafHash(Buffer.from(hex, 'hex'));
  }
  return cryptoHash('sha256', scratch.subarray(0, 1 + HASH_BYTES), 'buffer');
}

/** Interior node hash. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    return cryptoHash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
  }
  scratch[0] = 0x01;
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_BYTES);
  return cryptoHash('sha256', scratch, 'buffer');
}

const HASH_BYTES = 32;
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
/**
 * Where the small hashes' input is assembled (a prefix byte and at most two hashes): one buffer
 * reused, rather than a new one per hash, as a log hashes a leaf and a node or two per record.
 */
const scratch = Buffer.alloc(1 + 2 * HASH_BYTES);
/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT = createHash('sha256').digest();

/** Largest power of two strictly less than n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[lo:hi]) over leaf hashes. */
export function treeHash(leaves: readonly Uint8Array[], lo = 0, hi = leaves.length): Buffer {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return Buffer.from(leaves[lo]!);
  const k = split(n);
  return nodeHash(treeHash(leaves, lo, lo + k), treeHash(leaves, lo + k, hi));
}

/** PATH(m, D[n]): the audit path proving leaf `index` is in the tree of the first `size` leaves. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, size = leaves.length): Buffer[] {
  if (index < 0 || index >= size || size > leaves.length)
    throw new RangeError(`no leaf ${index} in a tree of ${size}`);
  const path = (m: number, lo: number, hi: number): Buffer[] => {
    const n = hi - lo;
    if (n === 1) return [];
    const k = split(n);
    return m < k
      ? [...path(m, lo, lo + k), treeHash(leaves, lo + k, hi)]
      : [...path(m - k, lo + k, hi), treeHash(leaves, lo, lo + k)];
  };
  return path(index, 0, size);
}

/** PROOF(m, D[n]): proves the tree of the first `m` leaves is a prefix of the tree of the first `n`. */
export function consistencyProof(leaves: readonly Uint8Array[], m: number, n = leaves.length): Buffer[] {
  if (m < 0 || m > n || n > leaves.length) throw new RangeError(`no consistency proof from ${m} to ${n}`);
  if (m === 0 || m === n) return [];
  const sub = (m: number, lo: number, hi: number, complete: boolean): Buffer[] => {
    const n = hi - lo;
    if (m === n) return complete ? [] : [treeHash(leaves, lo, hi)];
    const k = split(n);
    return m <= k
      ? [...sub(m, lo, lo + k, complete), treeHash(leaves, lo + k, hi)]
      : [...sub(m - k, lo + k, hi, false), treeHash(leaves, lo, lo + k)];
  };
  return sub(m, 0, n, true);
}

/** RFC 9162 §2.1.3.2: true when `proof` shows `leaf` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: true when `proof` shows the tree (size1, root1) is a prefix of (size2, root2). */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (size1 < 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && Buffer.from(root1).equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending and
 * computing the root are O(log n), so a writer never keeps or rehashes the whole log.
 */
export class CompactRange {
  private readonly nodes: { size: number; hash: Buffer }[] = [];
  size = 0;

  /** Appends one leaf hash. */
  append(leaf: Uint8Array): void {
    let node: { size: number; hash: Buffer } = { size: 1, hash: Buffer.from(leaf) };
    while (this.nodes.length > 0 && this.nodes[this.nodes.length - 1]!.size === node.size) {
      const left = this.nodes.pop()!;
      node = { size: left.size * 2, hash: nodeHash(left.hash, node.hash) };
    }
    this.nodes.push(node);
    this.size += 1;
  }

  /** MTH of every leaf appended so far. */
  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let hash = this.nodes[this.nodes.length - 1]!.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) hash = nodeHash(this.nodes[i]!.hash, hash);
    return hash;
  }

  /** An independent copy, to compute a root at this size while appends go on. */
  clone(): CompactRange {
    const copy = new CompactRange();
    copy.nodes.push(...this.nodes.map((n) => ({ ...n })));
    copy.size = this.size;
    return copy;
  }
}
