/**
 * The approver console's script: sign-in with a pasted token (sessionStorage), the inbox of pending
 * requests with approve and deny, decided requests, active waivers with revoke. It polls the admin
 * API every 2 s. Data never becomes markup: every text goes in with `textContent`, and nothing uses
 * `innerHTML`. Cards keep their DOM between polls, so a reason being typed is never lost.
 * Kept free of backticks and dollar-brace so that it sits in this raw string unchanged.
 */
export const CONSOLE_JS = String.raw`'use strict';
(() => {
  const TOKEN_KEY = 'mcpgov.approverToken';
  const POLL_MS = 2000;
  const byId = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY) || undefined;
  let timer;
  let polling = false;
  let serial = 0;
  /** Pending requests' cards, by request id. */
  const cards = new Map();
  /** Active waivers' cards, by waiver id. */
  const waiverCards = new Map();
  let linkedShown;

  // --- building blocks: text only ---

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function list(items, className) {
    const ul = el('ul', className);
    for (const item of items) ul.append(el('li', null, item));
    return ul;
  }

  function facts(pairs) {
    const dl = el('dl', 'facts');
    for (const [label, value, className] of pairs) {
      dl.append(el('dt', null, label));
      const dd = el('dd', className);
      if (value instanceof Node) dd.append(value);
      else dd.textContent = value === undefined || value === null ? '' : String(value);
      dl.append(dd);
    }
    return dl;
  }

  function pretty(value) {
    try {
      return JSON.stringify(value, null, 2);
    } catch (err) {
      return String(value);
    }
  }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + String(m % 60).padStart(2, '0') + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  function when(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? String(iso) : new Date(t).toLocaleString();
  }

  // --- the admin API ---

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { authorization: 'Bearer ' + token, 'x-mcpgov-channel': 'console' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (err) {
      throw new ApiError(0, 'unreachable', 'cannot reach the admin API (' + err.message + ')');
    }
    let data = null;
    try {
      data = await res.json();
    } catch (err) {
      data = null;
    }
    if (!res.ok) {
      const e = data && data.error ? data.error : { code: 'http_' + res.status, message: 'HTTP ' + res.status };
      throw new ApiError(res.status, String(e.code), String(e.message));
    }
    return data;
  }

  /** What a refusal means for the approver, in words they can act on. */
  function refusalText(err) {
    switch (err.code) {
      case 'step_up_required':
        return 'Step-up required: ' + err.message + ' Sign in again with a token from a recent multi-factor sign-in.';
      case 'binding_changed':
        return 'Not decided: the request no longer matches what you were shown. ' + err.message;
      case 'not_pending':
      case 'expired':
        return 'Not decided: ' + err.message;
      case 'not_allowed':
        return 'Not allowed: ' + err.message;
      case 'malformed':
        return 'Not sent: ' + err.message;
      default:
        return err.code + ': ' + err.message;
    }
  }

  // --- signing in and out ---

  function showSignIn(message) {
    byId('app').hidden = true;
    byId('whoami').hidden = true;
    byId('signin').hidden = false;
    const error = byId('signin-error');
    error.hidden = !message;
    error.textContent = message || '';
  }

  async function signIn(candidate) {
    token = candidate;
    try {
      const me = await api('GET', '/api/whoami');
      sessionStorage.setItem(TOKEN_KEY, token);
      showApp(me);
    } catch (err) {
      token = undefined;
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(err instanceof ApiError ? refusalText(err) : String(err));
    }
  }

  function signOut(message) {
    token = undefined;
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(timer);
    timer = undefined;
    for (const card of cards.values()) card.node.remove();
    cards.clear();
    for (const card of waiverCards.values()) card.node.remove();
    waiverCards.clear();
    byId('decided-rows').replaceChildren();
    byId('linked').replaceChildren();
    linkedShown = undefined;
    showSignIn(message);
  }

  function showApp(me) {
    const a = me.approver;
    byId('whoami-name').textContent = a.name ? a.name + ' (' + a.sub + ')' : a.sub;
    byId('whoami-detail').textContent =
      'tiers: ' + me.tiers.join(', ') + ' \u00b7 owners: ' + me.owners.join(', ') +
      (me.teams.length ? ' \u00b7 teams: ' + me.teams.join(', ') : '');
    byId('signin').hidden = true;
    byId('whoami').hidden = false;
    byId('app').hidden = false;
    byId('token-input').value = '';
    clearInterval(timer);
    timer = setInterval(refresh, POLL_MS);
    refresh();
  }

  function setStatus(text, failing) {
    const status = byId('status');
    status.textContent = text;
    status.classList.toggle('error', Boolean(failing));
  }

  function notice(text) {
    const n = byId('notice');
    n.textContent = text;
    n.hidden = false;
  }

  // --- polling ---

  async function refresh() {
    if (polling || !token) return;
    polling = true;
    try {
      const [pending, recent, waivers] = await Promise.all([
        api('GET', '/api/approvals?state=pending&limit=500'),
        api('GET', '/api/approvals?limit=100'),
        api('GET', '/api/waivers?active=true'),
      ]);
      renderInbox(pending.requests);
      renderDecided(recent.requests.filter((r) => r.state !== 'pending'));
      renderWaivers(waivers.waivers);
      await showLinked();
      setStatus('Updated ' + new Date().toLocaleTimeString() + '; refreshes every 2 s.', false);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) signOut('Signed out: ' + err.message);
      else setStatus(err instanceof ApiError ? refusalText(err) : String(err), true);
    } finally {
      polling = false;
    }
  }

  // --- the inbox ---

  function renderInbox(requests) {
    const inbox = byId('inbox');
    // Oldest first: the request waiting longest is decided first.
    const ordered = requests.slice().sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    const seen = new Set();
    ordered.forEach((request, i) => {
      seen.add(request.id);
      let card = cards.get(request.id);
      if (!card) {
        card = requestCard(request);
        cards.set(request.id, card);
      }
      updateTimes(card);
      if (inbox.children[i] !== card.node) inbox.insertBefore(card.node, inbox.children[i] || null);
    });
    for (const [id, card] of cards) {
      if (seen.has(id) || card.busy) continue;
      card.node.remove();
      cards.delete(id);
    }
    byId('pending-count').textContent = String(requests.length);
    byId('inbox-empty').hidden = requests.length > 0;
  }

  function requestCard(request) {
    const n = ++serial;
    const node = el('article', 'request tier-' + request.tier);
    node.dataset.requestId = request.id;
    const head = el('header', 'request-head');
    const waited = el('span', 'waited');
    head.append(
      el('span', 'tool', request.binding.tool),
      el('span', 'tier-badge tier-' + request.tier, request.tier + ' risk'),
      el('span', 'mode', request.mode === 'hold' ? 'call waiting' : 'agent retries after approval'),
      waited,
    );
    const agent = el('span', 'agent-name', request.binding.agent === null ? '(no agent)' : request.binding.agent);
    const verified = el(
      'span',
      request.verified ? 'badge verified' : 'badge unverified',
      request.verified ? 'verified' : 'unverified (default agent)',
    );
    const who = el('span');
    who.append(agent, ' ', verified);
    const expires = el('span', 'expires');
    const args = el('pre', 'args', pretty(request.args));
    const details = facts([
      ['Agent', who, 'agent'],
      ['Tool owner', request.owner || '(none)', 'owner'],
      ['Reasons', request.reasons.length ? list(request.reasons, 'reasons') : '(none)'],
      ['Semantic signals', request.signals.length ? list(request.signals, 'signals') : '(none)'],
      ['Session intent', request.intent || '(none declared)', 'intent'],
      ['Recent calls', request.recent_calls.length ? list(request.recent_calls, 'recent') : '(none)'],
      ['Arguments (masked)', args, 'arguments'],
      ['Arguments digest', el('code', 'digest', request.binding.args_digest)],
      ['Requested', when(request.created_at)],
      ['Expires', expires],
      ['Request', el('code', 'request-id', request.id)],
    ]);

    const form = el('form', 'decide');
    form.addEventListener('submit', (event) => event.preventDefault());
    const label = el('label', null, 'Reason (recorded with your decision)');
    const reason = el('textarea', 'reason');
    reason.id = 'reason-' + n;
    label.htmlFor = reason.id;
    reason.rows = 2;
    reason.maxLength = 2000;
    reason.placeholder = 'Why you approve or deny this call';
    const approve = el('button', 'approve', 'Approve');
    approve.type = 'button';
    approve.dataset.action = 'approve';
    const deny = el('button', 'deny', 'Deny');
    deny.type = 'button';
    deny.dataset.action = 'deny';
    const buttons = el('div', 'buttons');
    buttons.append(approve, deny);
    const error = el('p', 'card-error error');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    form.append(label, reason, buttons, error);
    node.append(head, details, form);

    const card = { node, request, waited, expires, reason, approve, deny, error, busy: false };
    approve.addEventListener('click', () => decide(card, 'approve'));
    deny.addEventListener('click', () => decide(card, 'deny'));
    return card;
  }

  function updateTimes(card) {
    const now = Date.now();
    card.waited.textContent = 'waiting ' + duration(now - Date.parse(card.request.created_at));
    const left = Date.parse(card.request.expires_at) - now;
    card.expires.textContent = when(card.request.expires_at) + (left > 0 ? ' (in ' + duration(left) + ')' : ' (expired)');
  }

  function showCardError(card, text, code) {
    card.error.textContent = text;
    card.error.dataset.code = code || '';
    card.error.hidden = false;
  }

  async function decide(card, verdict) {
    const reason = card.reason.value.trim();
    if (!reason) {
      showCardError(card, 'Write a reason first: it is recorded with your decision.', 'reason_missing');
      card.reason.focus();
      return;
    }
    const { request } = card;
    card.busy = true;
    card.approve.disabled = true;
    card.deny.disabled = true;
    card.error.hidden = true;
    try {
      await api('POST', '/api/approvals/' + encodeURIComponent(request.id) + '/' + verdict, {
        reason,
        args_digest: request.binding.args_digest,
      });
      card.node.remove();
      cards.delete(request.id);
      const what = (verdict === 'approve' ? 'Approved' : 'Denied') + ' request ' + request.id + ' (' + request.binding.tool + ')';
      const next =
        verdict === 'deny'
          ? '.'
          : request.mode === 'hold'
            ? ': the waiting call goes on.'
            : ': the agent may now retry the same call, once.';
      notice(what + next);
      refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return signOut('Signed out: ' + err.message);
      showCardError(card, err instanceof ApiError ? refusalText(err) : String(err), err.code);
    } finally {
      card.busy = false;
      card.approve.disabled = false;
      card.deny.disabled = false;
    }
  }

  // --- decided requests ---

  function renderDecided(requests) {
    const rows = requests.map((r) => {
      const tr = el('tr', 'state-' + r.state);
      tr.dataset.requestId = r.id;
      const v = r.verdict;
      const grant = r.grant
        ? r.grant.used_at
          ? 'used ' + when(r.grant.used_at)
          : 'unused, until ' + when(r.grant.expires_at)
        : '';
      const cells = [
        when(v ? v.at : r.created_at),
        r.binding.tool,
        (r.binding.agent === null ? '(no agent)' : r.binding.agent) + (r.verified ? '' : ' (unverified)'),
        r.tier,
        r.state + (r.interrupted ? ' (call interrupted)' : ''),
        v ? (v.approver.name ? v.approver.name + ' (' + v.approver.sub + ')' : v.approver.sub) + ' via ' + v.approver.via : '',
        v ? v.reason : '',
        grant,
      ];
      const classes = ['when', 'tool', 'agent', 'tier', 'outcome', 'by', 'reason', 'grant'];
      cells.forEach((text, i) => tr.append(el('td', classes[i], text)));
      return tr;
    });
    byId('decided-rows').replaceChildren(...rows);
    byId('decided').hidden = rows.length === 0;
    byId('decided-empty').hidden = rows.length > 0;
  }

  // --- waivers ---

  function renderWaivers(waivers) {
    const box = byId('waivers');
    const seen = new Set();
    waivers.forEach((waiver, i) => {
      seen.add(waiver.id);
      let card = waiverCards.get(waiver.id);
      if (!card) {
        card = waiverCard(waiver);
        waiverCards.set(waiver.id, card);
      }
      card.until.textContent = when(waiver.until) + ' (in ' + duration(Date.parse(waiver.until) - Date.now()) + ')';
      if (box.children[i] !== card.node) box.insertBefore(card.node, box.children[i] || null);
    });
    for (const [id, card] of waiverCards) {
      if (seen.has(id) || card.busy) continue;
      card.node.remove();
      waiverCards.delete(id);
    }
    byId('waiver-count').textContent = String(waivers.length);
    byId('waivers-empty').hidden = waivers.length > 0;
  }

  function waiverCard(waiver) {
    const n = ++serial;
    const node = el('article', 'waiver');
    node.dataset.waiverId = waiver.id;
    const until = el('span', 'until');
    const by = waiver.by.name ? waiver.by.name + ' (' + waiver.by.sub + ')' : waiver.by.sub;
    node.append(
      el('header', 'waiver-head', waiver.agent + ' \u2192 ' + waiver.tool),
      facts([
        ['Agent', waiver.agent, 'agent'],
        ['Tool', waiver.tool, 'tool'],
        ['Arguments match', waiver.args_match === undefined ? '(any)' : el('pre', 'args', pretty(waiver.args_match))],
        ['Until', until],
        ['Reason', waiver.reason, 'reason-text'],
        ['Compensating control', waiver.compensating, 'compensating'],
        ['Created', when(waiver.created_at) + ' by ' + by + ' via ' + waiver.by.via],
        ['Waiver', el('code', 'waiver-id', waiver.id)],
      ]),
    );
    const form = el('form', 'revoke');
    form.addEventListener('submit', (event) => event.preventDefault());
    const label = el('label', null, 'Reason to revoke');
    const reason = el('input', 'reason');
    reason.type = 'text';
    reason.id = 'revoke-reason-' + n;
    reason.maxLength = 2000;
    label.htmlFor = reason.id;
    const revoke = el('button', 'revoke-button', 'Revoke');
    revoke.type = 'button';
    revoke.dataset.action = 'revoke';
    const error = el('p', 'card-error error');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    form.append(label, reason, revoke, error);
    node.append(form);
    const card = { node, waiver, until, reason, revoke, error, busy: false };
    revoke.addEventListener('click', () => revokeWaiver(card));
    return card;
  }

  async function revokeWaiver(card) {
    const reason = card.reason.value.trim();
    if (!reason) {
      showCardError(card, 'Write a reason first: it is recorded with the revocation.', 'reason_missing');
      return;
    }
    card.busy = true;
    card.revoke.disabled = true;
    card.error.hidden = true;
    try {
      await api('POST', '/api/waivers/' + encodeURIComponent(card.waiver.id) + '/revoke', { reason });
      card.node.remove();
      waiverCards.delete(card.waiver.id);
      notice('Revoked waiver ' + card.waiver.id + ' (' + card.waiver.agent + ' \u2192 ' + card.waiver.tool + ').');
      refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return signOut('Signed out: ' + err.message);
      showCardError(card, err instanceof ApiError ? refusalText(err) : String(err), err.code);
    } finally {
      card.busy = false;
      card.revoke.disabled = false;
    }
  }

  // --- a request linked from a webhook: #/requests/ID ---

  function linkedId() {
    const match = /^#\/requests\/([^/]+)$/.exec(location.hash);
    if (!match) return undefined;
    try {
      return decodeURIComponent(match[1]);
    } catch (err) {
      return undefined;
    }
  }

  async function showLinked() {
    const id = linkedId();
    for (const node of document.querySelectorAll('.focused')) node.classList.remove('focused');
    const view = byId('linked-view');
    if (id === undefined) {
      view.hidden = true;
      linkedShown = undefined;
      return;
    }
    const card = cards.get(id);
    if (card) {
      card.node.classList.add('focused');
      view.hidden = true;
      if (linkedShown !== id) card.node.scrollIntoView({ block: 'center' });
      linkedShown = id;
      return;
    }
    if (linkedShown === id) return;
    linkedShown = id;
    const box = byId('linked');
    try {
      const { request: r } = await api('GET', '/api/approvals/' + encodeURIComponent(id));
      const v = r.verdict;
      box.replaceChildren(
        facts([
          ['Request', el('code', 'request-id', r.id)],
          ['State', r.state, 'state'],
          ['Tool', r.binding.tool],
          ['Agent', r.binding.agent === null ? '(no agent)' : r.binding.agent],
          ['Tier', r.tier],
          ['Decided by', v ? v.approver.sub + ' via ' + v.approver.via : '(nobody)'],
          ['Reason', v ? v.reason : ''],
        ]),
      );
    } catch (err) {
      box.replaceChildren(el('p', 'error', err instanceof ApiError ? refusalText(err) : String(err)));
    }
    view.hidden = false;
  }

  // --- start ---

  byId('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const candidate = byId('token-input').value.trim();
    if (candidate) signIn(candidate);
  });
  byId('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    linkedShown = undefined;
    if (token) refresh();
  });
  if (token) signIn(token);
  else showSignIn();
})();
`;
