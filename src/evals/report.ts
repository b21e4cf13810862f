import { EffectSchema } from '../core/effect.js';
import { binaryCounts } from './metrics.js';
import type { EvalReport, EvalStage } from './runner.js';

const EFFECTS = EffectSchema.options;

/** The human summary of a run: metrics, the confusion matrix, latency, and the cases it got wrong. */
export function formatReport(
  report: EvalReport,
  heading: { stage: EvalStage; verifier?: string; files: number },
  options: { failures?: number } = {},
): string {
  const { tp, fp, tn, fn } = binaryCounts(report.confusion);
  const m = report.metrics;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(7);
  const lines = [
    `stage ${heading.stage}${heading.verifier ? `, verifier ${heading.verifier}` : ''}: ${report.cases} cases from ${heading.files} file${heading.files === 1 ? '' : 's'} (positive class: blocked = deny or escalate)`,
    '',
    '  precision   recall       f1      fpr  accuracy',
    `  ${pct(m.precision)}  ${pct(m.recall)}  ${pct(m.f1)}  ${pct(m.fpr)}  ${pct(m.accuracy)}`,
    '',
    `  tp ${tp}  fp ${fp}  tn ${tn}  fn ${fn}    latency p50 ${report.latency_ms.p50} ms, p99 ${report.latency_ms.p99} ms`,
    '',
    `  expected \\ got ${EFFECTS.map((e) => e.padStart(9)).join('')}`,
    ...EFFECTS.map(
      (expected) =>
        `  ${expected.padEnd(15)}${EFFECTS.map((got) => String(report.confusion[expected][got]).padStart(9)).join('')}`,
    ),
  ];
  const wrong = report.results.filter((r) => (r.expect === 'allow') !== (r.got === 'allow'));
  const limit = options.failures ?? 20;
  if (wrong.length > 0 && limit > 0) {
    lines.push('', `  misclassified (${wrong.length}):`);
    for (const r of wrong.slice(0, limit)) {
      lines.push(
        `    ${r.id}: expected ${r.expect}, got ${r.got}${r.reasons.length ? ` (${r.reasons.join(', ')})` : ''}`,
      );
    }
    if (wrong.length > limit) lines.push(`    ... and ${wrong.length - limit} more (--failures N)`);
  }
  return lines.join('\n');
}
