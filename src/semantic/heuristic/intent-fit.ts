import type { SemanticSignal } from '../types.js';
import { covered, type ActionClass } from './actions.js';
import { namedInIntent, type Features } from './features.js';

/**
 * How well the call fits what the user asked for, in two signals:
 * - `unrequested_action`: the call has a side effect of a kind the intent never asks for (a delete
 *   when the user asked to read). Scored by how much harm that kind of action can do.
 * - `intent_mismatch`: the words of the call (its tool name twice, its arguments once) are neither
 *   in the intent nor passed on by earlier results: lemmatised overlap, see `intentFit`.
 * Neither runs without an intent; an intent taken from the agent registry (a list of purposes, not
 * a request) counts for less.
 */

/** How much an action the user did not ask for weighs, by class. */
export const UNREQUESTED_WEIGHT: Record<ActionClass, number> = {
  read: 0,
  create: 0.2,
  modify: 0.3,
  revoke: 0.4,
  send: 0.45,
  execute: 0.45,
  delete: 0.55,
  grant: 0.55,
  transfer: 0.55,
};

/** Registry intents are purposes ("keep a knowledge graph"), not the request itself. */
const REGISTRY_DISCOUNT = 0.6;
/** Below this fit the call's words are mostly foreign to the session. */
export const MISMATCH_FIT = 0.25;
/** Weight of `intent_mismatch` at zero fit; it corroborates other signals rather than deciding alone. */
const MISMATCH_WEIGHT = 0.3;

/** `unrequested_action`: a side effect the intent does not ask for, weighed by its class. */
export function unrequestedAction(f: Features): SemanticSignal[] {
  if (!f.intent.known) return [];
  const asked = f.intent.actions;
  // "Reset MFA for akim" asks for what `iam__reset_mfa` does, whatever class "reset" falls in.
  if (f.call.verb !== undefined && f.intent.terms.has(f.call.verb)) return [];
  // The tool name's verb senses are alternatives: one the intent covers is enough. Of the rest, the
  // least harmful reading counts. What a command or action text does counts as it is.
  const senses = [...f.call.nameActions];
  const nameMissing = senses.length > 0 && !senses.some((a) => covered(a, asked));
  const missing = [
    ...(nameMissing
      ? [senses.reduce((a, b) => (UNREQUESTED_WEIGHT[b] < UNREQUESTED_WEIGHT[a] ? b : a))]
      : []),
    ...[...f.call.carriedActions].filter((a) => !covered(a, asked)),
  ].filter((a) => !(a === 'send' && addressedAsAsked(f)));
  if (missing.length === 0) return [];
  const worst = missing.reduce((a, b) => (UNREQUESTED_WEIGHT[b] > UNREQUESTED_WEIGHT[a] ? b : a));
  const discount = f.intent.source === 'registry' ? REGISTRY_DISCOUNT : 1;
  // "nali needs the incident-responder role, go ahead": a statement that names what the tool acts
  // on, with no verb of any kind, is a request in other words; it counts half.
  const implicit = asked.size === 0 && !f.intent.question && objectNamed(f) ? 0.5 : 1;
  const askedText = asked.size > 0 ? [...asked].join(', ') : 'no action';
  return [
    {
      name: 'unrequested_action',
      detail: `${f.call.tool} does ${missing.join(', ')}; the intent asks for ${askedText}`,
      score: round(UNREQUESTED_WEIGHT[worst] * discount * implicit),
    },
  ];
}

/** Sending where the user said to send ("put a sample in s3://acme-analytics/samples/") is asked for. */
function addressedAsAsked(f: Features): boolean {
  return f.call.recipients.length > 0 && f.call.recipients.every((r) => namedInIntent(r.value, f));
}

/** The intent names what the tool acts on: a word of its name besides the verb and the server. */
function objectNamed(f: Features): boolean {
  const server = f.call.tool.includes('__') ? f.call.tool.split('__')[0]?.toLowerCase() : undefined;
  return [...f.call.nameTerms].some((t) => t !== f.call.verb && t !== server && f.intent.terms.has(t));
}

/**
 * The share of the call's words found in the intent (weight 1) or in what the session passed on
 * (weight 0.5), with the tool's name words counted twice: they say what the call is about.
 */
export function intentFit(f: Features): number {
  let total = 0;
  let found = 0;
  const weigh = (term: string, weight: number) => {
    total += weight;
    if (f.intent.terms.has(term) || f.intent.entities.has(term)) found += weight;
    else if (f.history.terms.has(term) || f.history.entities.has(term)) found += weight * 0.5;
  };
  for (const t of f.call.nameTerms) weigh(t, 2);
  let n = 0;
  for (const t of f.call.argTerms) if (n++ < 40) weigh(t, 1);
  return total === 0 ? 1 : found / total;
}

/** `intent_mismatch`: the call's words are mostly foreign to the intent and the session. */
export function intentMismatch(f: Features): SemanticSignal[] {
  // Tools, arguments and this overlap speak English: a request in another language shares few
  // words with the call however well it fits. `unrequested_action` still reads its verbs.
  if (!f.intent.known || f.intent.language !== 'en') return [];
  const fit = intentFit(f);
  if (fit >= MISMATCH_FIT) return [];
  const discount = f.intent.source === 'registry' ? REGISTRY_DISCOUNT : 1;
  return [
    {
      name: 'intent_mismatch',
      detail: `${Math.round(fit * 100)}% of the call's words appear in the intent or the session`,
      score: round(MISMATCH_WEIGHT * (1 - fit / MISMATCH_FIT) * discount),
    },
  ];
}

const round = (x: number) => Math.round(x * 1000) / 1000;
