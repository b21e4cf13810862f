/**
 * Information-flow labels: where a value came from (integrity) and how far it may travel
 * (confidentiality). A tool result carries both; a later call's arguments inherit the labels of the
 * results their values came from.
 */

/** `untrusted`: text nobody vouches for (web pages, e-mail bodies, issue comments, files others wrote). */
export type Integrity = 'trusted' | 'untrusted';

/** Ordered from least to most restricted. */
export type Confidentiality = 'public' | 'internal' | 'secret';

export const CONFIDENTIALITY_LEVELS: readonly Confidentiality[] = ['public', 'internal', 'secret'];

/** The more restricted of two levels; `undefined` counts as no data at all. */
export function maxConfidentiality(
  a: Confidentiality | undefined,
  b: Confidentiality | undefined,
): Confidentiality | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return CONFIDENTIALITY_LEVELS.indexOf(a) >= CONFIDENTIALITY_LEVELS.indexOf(b) ? a : b;
}

/**
 * Data classes that name secrets: credentials and key material are `secret`. Every other class a
 * tool declares makes its results `internal`; a tool that declares none (or only `public`) returns
 * `public` data.
 */
const SECRET_CLASSES = new Set(['secret', 'secrets', 'credentials', 'credential', 'keys', 'key_material']);

/** The confidentiality a tool's results get from its registry data classes. */
export function confidentialityOf(dataClasses: readonly string[]): Confidentiality {
  let level: Confidentiality = 'public';
  for (const c of dataClasses) {
    const name = c.toLowerCase();
    if (SECRET_CLASSES.has(name)) return 'secret';
    if (name !== 'public') level = 'internal';
  }
  return level;
}

/** What one tool's results are labelled with. */
export interface ResultLabels {
  integrity: Integrity;
  confidentiality: Confidentiality;
}

/** A tool's result labels: what its registry entry says, else untrusted and its data classes' level. */
export function resultLabels(
  declared: { integrity?: Integrity; confidentiality?: Confidentiality } | undefined,
  dataClasses: readonly string[],
): ResultLabels {
  return {
    integrity: declared?.integrity ?? 'untrusted',
    confidentiality: declared?.confidentiality ?? confidentialityOf(dataClasses),
  };
}
