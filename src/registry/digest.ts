import { digest } from '../evidence/hash.js';

/**
 * The parts of a tool definition that change what a model is told or what a call can do. A change in
 * any of them (a rewritten description is the classic "rug pull") changes the digest.
 */
const DEFINITION_FIELDS = [
  'name',
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
] as const;

/** `sha256:<hex>` over the RFC 8785 form of a tool's definition, as the downstream server sent it. */
export function definitionDigest(tool: Record<string, unknown>): string {
  const picked: Record<string, unknown> = {};
  for (const field of DEFINITION_FIELDS) {
    if (tool[field] !== undefined) picked[field] = tool[field];
  }
  return digest(picked);
}
