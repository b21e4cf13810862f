/**
 * The approver console's one page. Static markup only: every datum is inserted by console.js with
 * `textContent`, and the page has no inline script or style (the listener's CSP allows neither).
 * Element ids are stable: tests and approvers' own tooling may rely on them.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>mcpgov approvals</title>
<link rel="stylesheet" href="/console.css">
<script src="/console.js" defer></script>
</head>
<body>
<header id="topbar">
  <h1>mcpgov approvals</h1>
  <div id="whoami" hidden>
    <span>Signed in as <strong id="whoami-name"></strong></span>
    <span id="whoami-detail" class="muted"></span>
    <button id="sign-out" type="button">Sign out</button>
  </div>
</header>
<main>
  <section id="signin" hidden aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in</h2>
    <p>Paste an approver token (a JWT from your identity provider). On a machine running the demo,
      <code>mcpgov approvals token</code> prints one for the local development approver.
      The token is kept in this tab only, until you sign out or close it.</p>
    <form id="signin-form" autocomplete="off">
      <label for="token-input">Approver token</label>
      <textarea id="token-input" rows="4" spellcheck="false" autocomplete="off" required></textarea>
      <button id="signin-button" type="submit">Sign in</button>
    </form>
    <p id="signin-error" class="error" role="alert" hidden></p>
  </section>

  <div id="app" hidden>
    <p id="status" class="muted" role="status"></p>
    <p id="notice" class="notice" role="status" hidden></p>

    <section id="linked-view" hidden aria-labelledby="linked-title">
      <h2 id="linked-title">Linked request</h2>
      <div id="linked"></div>
    </section>

    <section id="inbox-view" aria-labelledby="inbox-title">
      <h2 id="inbox-title">Waiting for a decision <span id="pending-count" class="count">0</span></h2>
      <p id="inbox-empty" class="muted">No request is waiting.</p>
      <div id="inbox"></div>
    </section>

    <section id="decided-view" aria-labelledby="decided-title">
      <h2 id="decided-title">Decided and closed</h2>
      <p id="decided-empty" class="muted">Nothing decided yet.</p>
      <table id="decided" hidden>
        <thead>
          <tr>
            <th scope="col">When</th><th scope="col">Tool</th><th scope="col">Agent</th>
            <th scope="col">Tier</th><th scope="col">Outcome</th><th scope="col">By</th>
            <th scope="col">Reason</th><th scope="col">Grant</th>
          </tr>
        </thead>
        <tbody id="decided-rows"></tbody>
      </table>
    </section>

    <section id="waivers-view" aria-labelledby="waivers-title">
      <h2 id="waivers-title">Active waivers <span id="waiver-count" class="count">0</span></h2>
      <p class="muted">Create waivers with <code>mcpgov waivers add</code>; they need the step-up a
        critical approval needs.</p>
      <p id="waivers-empty" class="muted">No waiver is active.</p>
      <div id="waivers"></div>
    </section>
  </div>
</main>
</body>
</html>
`;
