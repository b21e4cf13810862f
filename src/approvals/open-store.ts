import { LowdbApprovalStore } from './lowdb-store.js';
import { PostgresApprovalStore } from './postgres-store.js';
import type { ApprovalStore } from './store.js';

/** The configured approval store: PostgreSQL when `state.approvals` names one, else lowdb in `state.dir`. */
export function openApprovalStore(state: { dir: string; approvals?: string }): Promise<ApprovalStore> {
  return state.approvals === undefined
    ? LowdbApprovalStore.open(state.dir)
    : PostgresApprovalStore.open({ url: state.approvals });
}

/** Where the store is, for messages (a URL without its password). */
export function describeApprovalStore(state: { dir: string; approvals?: string }): string {
  if (state.approvals === undefined) return `the approval store in ${state.dir}`;
  const url = new URL(state.approvals);
  if (url.password) url.password = '***';
  return `the approval store at ${url.toString()}`;
}
