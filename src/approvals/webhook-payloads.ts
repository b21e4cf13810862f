import type { ApprovalRequest } from './types.js';

/**
 * What a webhook receiver is sent about a new approval request: Slack incoming-webhook JSON, or a
 * generic JSON object a Jira or ServiceNow integration reads. Built only from the stored request,
 * whose arguments, intent and recent calls are already masked; nothing of the raw call is added.
 */

/** Where a request can be looked at: the approver console's page for it, and its admin API resource. */
export interface RequestLinks {
  console: string;
  api: string;
}

/** The links to a request under the admin listener's base URL (no trailing slash). */
export function requestLinks(base: string, id: string): RequestLinks {
  const root = withoutTrailingSlashes(base);
  const enc = encodeURIComponent(id);
  return { console: `${root}/#/requests/${enc}`, api: `${root}/api/approvals/${enc}` };
}

/** `url` without the slashes it ends with. */
export function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

/** The generic event, for ticketing integrations: the request as approvers see it, with links. */
export function genericPayload(request: ApprovalRequest, links: RequestLinks | undefined): object {
  return {
    event: 'approval.requested',
    request: {
      id: request.id,
      agent: request.binding.agent,
      verified: request.verified,
      tool: request.binding.tool,
      tier: request.tier,
      owner: request.owner ?? null,
      reasons: request.reasons,
      signals: request.signals,
      args: request.args,
      created_at: request.created_at,
      expires_at: request.expires_at,
      mode: request.mode,
    },
    links: links ?? null,
  };
}

// Slack's limits (https://api.slack.com/reference/block-kit/blocks): a header's text 150 characters,
// a section field 2000, a section text 3000, a button's URL 3000.
const HEADER_MAX = 150;
const FIELD_MAX = 2000;
const TEXT_MAX = 3000;

/**
 * Slack incoming-webhook JSON: a `text` fallback (notifications) and blocks with the agent, tool,
 * tier, reasons, signals, times and a button to the request in the console. The arguments are left
 * out: a chat channel is a wider audience than the console.
 */
export function slackPayload(request: ApprovalRequest, links: RequestLinks | undefined): object {
  const agent = request.binding.agent ?? '(no agent)';
  const who = `${agent}${request.verified ? '' : ' (unverified)'}`;
  const tool = request.binding.tool;
  const summary = `Approval requested: ${who} wants to call ${tool} (${request.tier} tier)`;
  const field = (label: string, value: string) => ({
    type: 'mrkdwn',
    text: cut(`*${label}*\n${escapeMrkdwn(value)}`, FIELD_MAX),
  });
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(summary, HEADER_MAX) } },
    {
      type: 'section',
      fields: [
        field('Agent', who),
        field('Tool', tool),
        field('Risk tier', request.tier),
        field('Mode', request.mode),
        field('Requested', request.created_at),
        field('Expires', request.expires_at),
      ],
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: cut(
          `*Reasons:* ${escapeMrkdwn(request.reasons.join(', ') || '(none)')}` +
            (request.signals.length > 0 ? `\n*Signals:* ${escapeMrkdwn(request.signals.join(', '))}` : ''),
          TEXT_MAX,
        ),
      },
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Request \`${escapeMrkdwn(request.id)}\`` }] },
  ];
  if (links && links.console.length <= TEXT_MAX) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Open in the approver console' },
          url: links.console,
          action_id: 'open_request',
        },
      ],
    });
  }
  const text = escapeMrkdwn(summary) + (links ? ` <${links.console}|request ${request.id}>` : '');
  return { text: cut(text, TEXT_MAX), blocks };
}

/**
 * Slack's mrkdwn control characters escaped (https://api.slack.com/reference/surfaces/formatting):
 * a name like `<!channel>` or `<https://evil|click>` stays text, never a mention or a link.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `text` cut to `max` characters, marked when cut. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
