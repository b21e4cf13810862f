import type { SemanticSignal, SemanticVerdictKind } from '../types.js';

/**
 * From signals to a verdict. Each signal's score is the probability-like weight of one piece of
 * evidence against the call; independent pieces combine as a noisy-OR, `risk = 1 - Π(1 - score)`,
 * so two moderate signals together can cross a threshold neither crosses alone, and no number of
 * weak ones reaches certainty.
 */
export interface Thresholds {
  /** Risk at or above which the call is held for a person. */
  escalate: number;
  /** Risk at or above which the call is refused, if a deny-grade signal is among the evidence. */
  deny: number;
}

/**
 * Chosen on the project's own eval cases (evals/cases): 0.5 holds a call when one strong signal
 * (an injected instruction carried out, a poisoned description, a destructive command) or two
 * corroborating ones speak against it; single weak signals (an unnamed recipient, a loose topic fit)
 * stay below. Deny needs near-certainty from a signal that is an attack in itself.
 */
export const DEFAULT_THRESHOLDS: Thresholds = { escalate: 0.5, deny: 0.9 };

/** Signals that show an attack by themselves, so a strong one may deny rather than escalate. */
const DENY_GRADE = new Set([
  'poisoned_description',
  'injection_provenance',
  'secret_exposure',
  'destructive_target',
  'untrusted_code',
]);
/** A deny-grade signal must itself be at least this strong for a deny. */
const DENY_SIGNAL_MIN = 0.8;

/** The noisy-OR of the signals' scores. */
export function combinedRisk(signals: readonly SemanticSignal[]): number {
  let keep = 1;
  for (const s of signals) keep *= 1 - Math.min(1, Math.max(0, s.score));
  return 1 - keep;
}

/** The verdict for a set of signals, with the combined risk and a confidence. */
export function verdictFor(
  signals: readonly SemanticSignal[],
  thresholds: Thresholds = DEFAULT_THRESHOLDS,
): { risk: number; verdict: SemanticVerdictKind; confidence: number } {
  const risk = combinedRisk(signals);
  const denyGrade = signals.some((s) => DENY_GRADE.has(s.name) && s.score >= DENY_SIGNAL_MIN);
  const verdict: SemanticVerdictKind =
    risk >= thresholds.deny && denyGrade ? 'deny' : risk >= thresholds.escalate ? 'escalate' : 'allow';
  // Confidence is the distance from the nearest boundary, scaled to 0.5..1.
  const boundary = thresholds.escalate;
  const confidence =
    verdict === 'allow'
      ? 0.5 + (0.5 * (boundary - risk)) / boundary
      : 0.5 + (0.5 * (risk - boundary)) / (1 - boundary);
  return { risk, verdict, confidence: Math.min(1, Math.max(0, confidence)) };
}
