import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  leafHashOfHex,
  nodeHash,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/evidence/merkle.js';

/**
 * The RFC 6962 known-answer vectors (the eight-leaf tree used by Certificate Transparency, Trillian and
 * transparency-dev/merkle, whose 7-leaf prefix is the RFC 9162 §2.1.5 example).
 */
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => leafHash(Buffer.from(h, 'hex')));
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const hex = (b: Buffer[]) => b.map((x) => x.toString('hex'));
const INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY = [
  {
    m: 1,
    n: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    m: 6,
    n: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    m: 2,
    n: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const root = (size: number) => Buffer.from(ROOTS[size - 1]!, 'hex');

describe('RFC 6962 Merkle tree', () => {
  it('computes the known tree heads for sizes 0 to 8', () => {
    expect(treeHash([]).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(EMPTY_ROOT).toEqual(treeHash([]));
    for (let size = 1; size <= 8; size++)
      expect(treeHash(LEAVES.slice(0, size)).toString('hex')).toBe(ROOTS[size - 1]);
  });

  it('keeps the same heads incrementally in a compact range', () => {
    const range = new CompactRange();
    for (let size = 1; size <= 8; size++) {
      range.append(LEAVES[size - 1]!);
      expect(range.root().toString('hex')).toBe(ROOTS[size - 1]);
    }
  });

  it('builds and verifies the known inclusion proofs, and rejects altered ones', () => {
    for (const { index, size, proof } of INCLUSION) {
      const built = inclusionProof(LEAVES, index, size);
      expect(hex(built)).toEqual(proof);
      expect(verifyInclusion(LEAVES[index]!, index, size, built, root(size))).toBe(true);
      expect(verifyInclusion(LEAVES[index]!, index + 1, size, built, root(size))).toBe(false);
      expect(verifyInclusion(LEAVES[index]!, index, size * 2, built, root(size))).toBe(false);
      expect(verifyInclusion(Buffer.from('WrongLeaf'), index, size, built, root(size))).toBe(false);
      expect(verifyInclusion(LEAVES[index]!, index, size, [...built, root(size)], root(size))).toBe(false);
      expect(verifyInclusion(LEAVES[index]!, index, size, built.slice(0, -1), root(size))).toBe(false);
    }
  });

  it('builds and verifies the known consistency proofs, and rejects altered ones', () => {
    for (const { m, n, proof } of CONSISTENCY) {
      const built = consistencyProof(LEAVES, m, n);
      expect(hex(built)).toEqual(proof);
      expect(verifyConsistency(m, n, root(m), root(n), built)).toBe(true);
      expect(verifyConsistency(m, n, root(n), root(m), built)).toBe(false);
      expect(verifyConsistency(m + 1, n, root(m), root(n), built)).toBe(false);
      expect(verifyConsistency(m, n, root(m), root(n), built.slice(0, -1))).toBe(false);
      expect(verifyConsistency(m, n, root(m), root(n), [...built, EMPTY_ROOT])).toBe(false);
    }
    expect(verifyConsistency(4, 4, root(4), root(4), [])).toBe(true);
    expect(verifyConsistency(4, 3, root(4), root(3), [])).toBe(false);
  });

  it('has the shape of the RFC 9162 seven-leaf example', () => {
    // Leaves a..f,j; nodes g=(a,b) h=(c,d) i=(e,f) k=(i,j) l=(g,h): PATH(3, D[7]) = [c, g, k], PROOF(3, D[7]) = [c, d, g, k].
    const [a, b, c, d, e, f, j] = LEAVES.slice(0, 7) as Buffer[];
    const g = nodeHash(a!, b!);
    const k = nodeHash(nodeHash(e!, f!), j!);
    expect(inclusionProof(LEAVES.slice(0, 7), 3)).toEqual([c, g, k]);
    expect(consistencyProof(LEAVES.slice(0, 7), 3)).toEqual([c, d, g, k]);
    for (let m = 1; m <= 7; m++) {
      for (let n = m; n <= 8; n++) {
        expect(
          verifyConsistency(
            m,
            n,
            treeHash(LEAVES.slice(0, m)),
            treeHash(LEAVES.slice(0, n)),
            consistencyProof(LEAVES, m, n),
          ),
        ).toBe(true);
      }
      for (let i = 0; i < m; i++)
        expect(
          verifyInclusion(LEAVES[i]!, i, m, inclusionProof(LEAVES, i, m), treeHash(LEAVES.slice(0, m))),
        ).toBe(true);
    }
  });

  it('hashes a leaf given as hex exactly as decoding it first does, malformed hex included', () => {
    const valid = 'ab'.repeat(32);
    for (const hex of [
      valid,
      valid.toUpperCase(),
      valid.slice(0, 62),
      `${valid}00`,
      `${valid.slice(0, 10)}zz${valid.slice(12)}`,
      '',
    ])
      expect(leafHashOfHex(hex)).toEqual(leafHash(Buffer.from(hex, 'hex')));
  });

  it('hashes nodes of any size, not only of 32-byte hashes', () => {
    const concat = (l: Buffer, r: Buffer) =>
      createHash('sha256')
        .update(Buffer.concat([Buffer.from([1]), l, r]))
        .digest();
    for (const [l, r] of [
      [LEAVES[0]!, LEAVES[1]!],
      [Buffer.from('ab'), LEAVES[2]!],
      [Buffer.alloc(40, 7), Buffer.alloc(0)],
    ] as const)
      expect(nodeHash(l, r)).toEqual(concat(l, r));
  });
});
