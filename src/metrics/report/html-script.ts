/**
 * The script the HTML report runs: it reads the report from its `application/json` block and draws
 * each chart with Chart.js (inlined before it). Plain browser JavaScript, kept as text: it is written
 * into the page, never run by Node. Every label is drawn on a canvas, never inserted as HTML.
 */
export const RENDER_SCRIPT = `(function () {
  'use strict';
  var report = JSON.parse(document.getElementById('report-data').textContent);
  var C = window.Chart;
  C.defaults.animation = false;
  C.defaults.responsive = true;
  C.defaults.maintainAspectRatio = false;
  C.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  C.defaults.color = '#334155';
  var colors = {
    allowed: '#16a34a', deniedEnforced: '#dc2626', deniedObserved: '#f59e0b',
    escalatedEnforced: '#7c3aed', escalatedObserved: '#c4b5fd', waived: '#0ea5e9',
    calls: '#0f172a', forwarded: '#64748b', gap: '#dc2626', neutral: '#94a3b8'
  };
  function canvas(id) { return document.getElementById(id); }
  function chart(id, config) {
    var el = canvas(id);
    if (el) new C(el, config);
  }
  function bars(labels, sets, horizontal, stacked) {
    return {
      type: 'bar',
      data: { labels: labels, datasets: sets },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        scales: { x: { stacked: !!stacked, beginAtZero: true }, y: { stacked: !!stacked, beginAtZero: true } },
        plugins: { legend: { display: sets.length > 1 } }
      }
    };
  }
  function set(label, data, color, extra) {
    var d = { label: label, data: data, backgroundColor: color, borderColor: color, maxBarThickness: 36 };
    for (var k in extra) d[k] = extra[k];
    return d;
  }
  function pick(rows, key) { return rows.map(function (r) { return r[key]; }); }

  var points = report.series.points;
  var labels = points.map(function (p) {
    return report.series.unit === 'hour' ? p.start.slice(0, 13).replace('T', ' ') + ':00' : p.start.slice(0, 10);
  });
  var line = { fill: false, tension: 0.2, pointRadius: 2 };
  chart('chart-calls', {
    type: 'line',
    data: {
      labels: labels,
      datasets: [
        set('calls (decisions)', pick(points, 'calls'), colors.calls, line),
        set('allowed', pick(points, 'allowed'), colors.allowed, line),
        set('denied, enforced', pick(points, 'denied_enforced'), colors.deniedEnforced, line),
        set('denied, observed', pick(points, 'denied_observed'), colors.deniedObserved, line),
        set('escalated', points.map(function (p) { return p.escalated_enforced + p.escalated_observed; }), colors.escalatedEnforced, line),
        set('forwarded', pick(points, 'forwarded'), colors.forwarded, Object.assign({ borderDash: [4, 4] }, line))
      ]
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });

  var cov = report.coverage;
  chart('chart-coverage', {
    type: 'doughnut',
    data: {
      labels: ['decided', 'no decision record'],
      datasets: [{ data: [cov.decided, Math.max(0, cov.gap)], backgroundColor: [colors.allowed, colors.gap] }]
    }
  });
  var comp = report.completeness;
  chart('chart-completeness', {
    type: 'doughnut',
    data: {
      labels: ['closed and covered', 'closed, not covered', 'not closed'],
      datasets: [{ data: [comp.complete, comp.closed_not_covered, comp.open], backgroundColor: [colors.allowed, colors.deniedObserved, colors.gap] }]
    }
  });

  var deny = report.deny_reasons.slice(0, 20);
  chart('chart-deny-reasons', bars(pick(deny, 'reason'), [
    set('enforced', pick(deny, 'enforced'), colors.deniedEnforced),
    set('observed', pick(deny, 'observed'), colors.deniedObserved)
  ], true, true));

  var seconds = function (ms) { return ms === null ? null : ms / 1000; };
  chart('chart-escalations', {
    data: {
      labels: labels,
      datasets: [
        set('escalated, enforced', pick(points, 'escalated_enforced'), colors.escalatedEnforced, { type: 'bar', yAxisID: 'y', stack: 'e' }),
        set('escalated, observed', pick(points, 'escalated_observed'), colors.escalatedObserved, { type: 'bar', yAxisID: 'y', stack: 'e' }),
        set('time to decision p50 (s)', points.map(function (p) { return seconds(p.time_to_decision_p50_ms); }), '#0f766e', { type: 'line', yAxisID: 's', spanGaps: true, pointRadius: 4 }),
        set('time to decision p90 (s)', points.map(function (p) { return seconds(p.time_to_decision_p90_ms); }), '#f97316', { type: 'line', yAxisID: 's', spanGaps: true, pointRadius: 4 })
      ]
    },
    options: {
      scales: {
        x: { stacked: true },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'escalations' } },
        s: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'seconds' } }
      }
    }
  });
  var ap = report.approvals;
  chart('chart-approvals', {
    type: 'doughnut',
    data: {
      labels: ['approved', 'denied', 'expired', 'withdrawn', 'pending'],
      datasets: [{ data: [ap.approved, ap.denied, ap.expired, ap.withdrawn, ap.pending], backgroundColor: [colors.allowed, colors.deniedEnforced, colors.neutral, colors.forwarded, colors.escalatedEnforced] }]
    }
  });

  var w = report.waivers.list.slice(0, 30);
  chart('chart-waivers', bars(w.map(function (x) { return x.tool + ' (' + x.agent + ')'; }), [
    set('uses', pick(w, 'uses'), colors.waived)
  ], true, false));

  var sig = report.semantic.signals.slice(0, 20);
  chart('chart-signals', bars(pick(sig, 'signal'), [set('calls with the signal', pick(sig, 'count'), colors.escalatedEnforced)], true, false));

  function effectSets(rows) {
    return [
      set('allowed', pick(rows, 'allowed'), colors.allowed),
      set('denied, enforced', pick(rows, 'denied_enforced'), colors.deniedEnforced),
      set('denied, observed', pick(rows, 'denied_observed'), colors.deniedObserved),
      set('escalated, enforced', pick(rows, 'escalated_enforced'), colors.escalatedEnforced),
      set('escalated, observed', pick(rows, 'escalated_observed'), colors.escalatedObserved)
    ];
  }
  var agents = report.agents.slice(0, 20);
  chart('chart-agents', bars(pick(agents, 'agent'), effectSets(agents), true, true));
  var tools = report.tools.slice(0, 20);
  chart('chart-tools', bars(pick(tools, 'tool'), effectSets(tools), true, true));

  var causes = Object.keys(report.drift.by_cause);
  chart('chart-drift', bars(causes, [set('drift events', causes.map(function (k) { return report.drift.by_cause[k]; }), colors.deniedObserved)], false, false));

  document.body.setAttribute('data-rendered', String(Object.keys(C.instances).length));
})();
`;
