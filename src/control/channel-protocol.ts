import { z } from 'zod';
import { PepInfoSchema } from '../evidence/types.js';
import { PepPolicyStatusSchema } from '../policy/runtime/status.js';

/**
 * The control channel between a sidecar and the gateway: JSON messages over a WebSocket (`/control`
 * on the gateway's HTTP listener). The sidecar authenticates the upgrade with a bearer token that the
 * gateway's config pins (by hash) to the sidecar's PEP id; an unknown PEP is refused.
 *
 *   sidecar -> gateway   hello, status, records, checkpoint
 *   gateway -> sidecar   welcome, ack, nack, policy
 *
 * Evidence flows as the sidecar's own signed log, replicated record by record: `records` and
 * `checkpoint` carry log lines, and every `ack` / `nack` returns the replica's cursor so the sidecar
 * resumes exactly there (each record is stored once, in order).
 */

const CursorSchema = z.object({
  next_seq: z.number().int().nonnegative(),
  checkpoints: z.number().int().nonnegative(),
});

export const HelloSchema = z.object({
  type: z.literal('hello'),
  pep: PepInfoSchema,
  /** The bundle name and channel the sidecar follows, so the gateway pushes that channel's pointer. */
  follow: z.object({ name: z.string().min(1), channel: z.string().min(1) }).nullable(),
});

/** The sidecar's policy status (drift detection's input), as `POST /policy/status` carries it. */
export const StatusSchema = z.object({
  type: z.literal('status'),
  status: PepPolicyStatusSchema,
});

export const RecordsSchema = z.object({
  type: z.literal('records'),
  id: z.number().int(),
  lines: z.array(z.string()).max(10_000),
});

export const CheckpointMessageSchema = z.object({
  type: z.literal('checkpoint'),
  id: z.number().int(),
  line: z.string(),
});

/** Anything a sidecar may send. */
export const SidecarMessageSchema = z.discriminatedUnion('type', [
  HelloSchema,
  StatusSchema,
  RecordsSchema,
  CheckpointMessageSchema,
]);
export type SidecarMessage = z.infer<typeof SidecarMessageSchema>;

export const WelcomeSchema = z.object({
  type: z.literal('welcome'),
  /** Where the sidecar's evidence replica stands; null when the gateway pins no key for this PEP. */
  evidence: CursorSchema.nullable(),
});

export const AckSchema = z.object({ type: z.literal('ack'), id: z.number().int(), cursor: CursorSchema });
export const NackSchema = z.object({
  type: z.literal('nack'),
  id: z.number().int(),
  cursor: CursorSchema,
  error: z.string(),
});

/**
 * The channel's pointer and the bundle it names, relayed as the gateway's registry holds them: the
 * sidecar verifies both itself (pinned keys, approvals, hashes, seq) before activating anything.
 */
export const PolicyMessageSchema = z.object({
  type: z.literal('policy'),
  /** The signed channel pointer (a compact JWS), as published. */
  pointer: z.string(),
  /** The bundle's files, by name, base64. */
  files: z.record(z.string(), z.string()),
});

/** Anything the gateway may send. */
export const GatewayMessageSchema = z.discriminatedUnion('type', [
  WelcomeSchema,
  AckSchema,
  NackSchema,
  PolicyMessageSchema,
]);
export type GatewayMessage = z.infer<typeof GatewayMessageSchema>;

/** The WebSocket path on the gateway's HTTP listener. */
export const CONTROL_PATH = '/control';
/** Largest control message accepted, in bytes (a bundle or a batch of records). */
export const MAX_CONTROL_MESSAGE_BYTES = 16 * 1024 * 1024;
