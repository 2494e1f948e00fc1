/**
 * What activator replicas tell each other: each replica's own demand per model, as a full snapshot (so a lost or
 * reordered message is repaired by the next one), sent on change and at least every heartbeat.
 *
 *   GET /peers/demand, Upgrade: websocket, Authorization: Bearer <peers' token>   (admin listener)   → 101
 *   receiver → sender, once, first:  PeerAck (who the receiver is)
 *   sender → receiver, each message:  PeerMessage (text frame, JSON); no answers
 *
 * Pure: shapes and validation only.
 */
import { z } from "zod";

/** Path of the peer endpoint on the admin listener. */
export const PEER_PATH = "/peers/demand";
/** Largest message accepted (a snapshot of a few thousand models). */
export const MAX_PEER_MESSAGE_BYTES = 1024 * 1024;

const count = z.int().min(0).max(1_000_000_000);

/**
 * Unknown keys are dropped, not refused: during a rolling update a replica may receive messages from a newer version
 * that says more, and must still count what it understands.
 */
export const peerMessageSchema = z.object({
  /** The sender: pod name in Kubernetes, `<host>:<pid>` elsewhere. */
  name: z.string().min(1).max(253),
  /** Changes on every start of the sender: a restarted replica replaces its previous entry at once. */
  incarnation: z.string().min(1).max(64),
  /** Increases with every message of one incarnation: an older message arriving late is ignored. */
  seq: z.int().min(0),
  /** True in the last message of a replica that stops: it is dropped at once instead of after the TTL. */
  leaving: z.boolean().default(false),
  /**
   * True while the sender holds at least one KEDA `StreamIsActive` (KEDA's connection to the scaler Service lands on
   * one replica): a replica with a cold request pushes to such peers first. Absent (an older sender): false.
   */
  kedaStreams: z.boolean().default(false),
  /**
   * Per model key `<namespace>/<name>`, models with demand or recent activity: held + in flight, whether it holds cold
   * requests, and `activity`, a count of requests that arrived or ended at the sender (it moving between two messages
   * of one incarnation is activity: ../scaler/activity). Absent (an older sender): demand alone counts.
   */
  models: z.record(z.string().max(200), z.object({ demand: count, cold: z.boolean(), activity: z.int().min(0).optional() })),
});

export type PeerMessage = z.output<typeof peerMessageSchema>;
export type PeerModelDemand = PeerMessage["models"][string];

/** The receiver's hello: who it is, so that a replica finds its own address in a peer list and skips it. */
export interface PeerAck {
  name: string;
  incarnation: string;
}
