import { globMatch } from '../../registry/glob.js';

/** What `mcpgov report` is asked to cover. Times are milliseconds since the epoch, both inclusive. */
export interface ReportFilters {
  since?: number;
  until?: number;
  /** An agent id (the registry's), as decision records name it in `subject.agent`. */
  agent?: string;
  /** An exposed tool name (`<server>__<tool>`), as decision records name it in `request.tool`. */
  tool?: string;
}

/** Whether time `t` lies in the filters' period (a record without a readable time never does). */
export function inPeriod(f: ReportFilters, t: number): boolean {
  if (Number.isNaN(t)) return false;
  return (f.since === undefined || t >= f.since) && (f.until === undefined || t <= f.until);
}

/** Whether a record about `agent` passes the agent filter (`*`: a waiver for every agent). */
export function agentMatches(f: ReportFilters, agent: string | null | undefined): boolean {
  return f.agent === undefined || agent === f.agent || agent === '*';
}

/** Whether a record about `tool` passes the tool filter. */
export function toolMatches(f: ReportFilters, tool: string | undefined): boolean {
  return f.tool === undefined || tool === f.tool;
}

/** Whether a waiver for the tools `pattern` (a glob) covers the tool filter's tool. */
export function waiverToolMatches(f: ReportFilters, pattern: string | undefined): boolean {
  return f.tool === undefined || (pattern !== undefined && globMatch(pattern, f.tool));
}

/** A string field of parsed evidence, or undefined when it is missing or not a string. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
