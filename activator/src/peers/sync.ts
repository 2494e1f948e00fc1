/**
 * Demand shared between activator replicas, by push: every replica POSTs its own per-model demand (held + in flight,
 * and whether it holds cold requests) to every peer's admin listener, at once when a cold request arrives, within
 * CHECK_MS of any other change, and every heartbeat regardless. Each replica thus knows the whole cluster's demand
 * without asking anyone at decision time: whichever replica KEDA's gRPC connection lands on answers for all.
 *
 * - Push, not poll: a cold request at replica A reaches the KEDA stream held by replica B in one loopback HTTP
 *   exchange (measured by bench/peerPush.ts), where polling (KEDA HTTP add-on's way of summing interceptor `/queue`)
 *   costs up to a polling interval.
 * - Full snapshots, numbered: a lost message is repaired by the next; a late one (lower `seq`) is ignored.
 * - At most one routine message in flight per peer; changes meanwhile are sent once it returns (latest snapshot
 *   only), so a burst of requests costs a handful of messages, not one per request. A cold request does not wait
 *   behind a routine message: it goes at once, on a second connection if need be, and first to the peers that hold
 *   KEDA's streams (each message says whether its sender does; a peer not heard from yet counts as one). Where
 *   replicas share a CPU, a peer woken by an earlier write runs first: the one whose stream must say `true` should
 *   not wait behind it.
 * - A peer not heard from for `ttlMs` stops counting (logged); one that says `leaving` is dropped at once. Sending
 *   never blocks a decision: answers to KEDA read the table as it is.
 * - A replica finds itself in a peer list by the name the receiver answers with, and stops sending to that address.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { Agent, request, type Dispatcher } from "undici";
import { PEER_PATH, type PeerAck, type PeerMessage, type PeerModelDemand } from "./protocol";

/** Non-urgent changes (counts moving while a model is up) reach peers within this. */
export const CHECK_MS = 50;
const SEND_TIMEOUT_MS = 1000;

export interface PeerSyncOptions {
  logger: Logger;
  /** This replica's own demand: models with demand only. */
  local(): Record<string, PeerModelDemand>;
  /** Whether this replica holds any KEDA StreamIsActive now (told to peers, who push cold requests here first). */
  holdsKedaStreams?(): boolean;
  /** A peer reported cold requests for a model it did not before (activation needed, cluster-wide). */
  onRemoteCold(modelKey: string, receivedAt: number): void;
  heartbeatMs: number;
  ttlMs: number;
  /** Default: POD_NAME, else `<host>:<pid>`. */
  name?: string;
  /** Where messages go; default: an undici Agent of its own (tests pass a MockAgent). */
  dispatcher?: Dispatcher;
}

/** `Authorization` value for a shared token. */
export const bearer = (token: string) => `Bearer ${token}`;

interface Target {
  readonly address: string;
  readonly url: string;
  self: boolean;
  /** The peer's name from its last answer; undefined until it answered. */
  peer: string | undefined;
  inFlight: number;
  again: boolean;
  failing: boolean;
}

interface PeerEntry {
  incarnation: string;
  seq: number;
  models: Record<string, PeerModelDemand>;
  kedaStreams: boolean;
  /** performance.now() of the last message. */
  seenAt: number;
}

export interface PeerView {
  name: string;
  lastSeenMsAgo: number;
  /** The peer holds KEDA's StreamIsActive streams (cold requests are pushed to it first). */
  kedaStreams: boolean;
  models: Record<string, PeerModelDemand>;
}

export class PeerSync {
  readonly name: string;
  readonly incarnation = randomBytes(8).toString("hex");
  private readonly targets = new Map<string, Target>();
  private readonly peers = new Map<string, PeerEntry>();
  private readonly agent: Dispatcher;
  private seq = 0;
  private lastSent = "";
  private lastSentAt = 0;
  private heartbeatMs: number;
  private ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Shared secret sent with every message and required of every message received; null: none. */
  token: string | null = null;

  constructor(private readonly opts: PeerSyncOptions) {
    this.name = opts.name ?? process.env["POD_NAME"] ?? `${hostname()}:${process.pid}`;
    this.heartbeatMs = opts.heartbeatMs;
    this.ttlMs = opts.ttlMs;
    this.agent =
      opts.dispatcher ??
      new Agent({ connections: 4, keepAliveTimeout: 30_000, connect: { timeout: SEND_TIMEOUT_MS }, headersTimeout: SEND_TIMEOUT_MS, bodyTimeout: SEND_TIMEOUT_MS });
    this.timer = setInterval(() => this.tick(), CHECK_MS);
    this.timer.unref();
  }

  configure(heartbeatMs: number, ttlMs: number): void {
    this.heartbeatMs = heartbeatMs;
    this.ttlMs = ttlMs;
  }

  /** The peers' admin `host:port`s (this replica's own may be among them). */
  setAddresses(addresses: readonly string[]): void {
    const wanted = new Set(addresses);
    for (const address of this.targets.keys()) if (!wanted.has(address)) this.targets.delete(address);
    let added = false;
    for (const address of wanted) {
      if (this.targets.has(address)) continue;
      const url = `http://${address}${PEER_PATH}`;
      this.targets.set(address, { address, url, self: false, peer: undefined, inFlight: 0, again: false, failing: false });
      added = true;
    }
    if (added) this.pushAll(); // a new peer learns our demand now, not at the next heartbeat
  }

  /** A cold request arrived here: tell every peer now. */
  pushNow(): void {
    this.pushAll(true);
  }

  /** Sum of the live peers' demand for a model. */
  remoteDemand(modelKey: string): number {
    const oldest = performance.now() - this.ttlMs;
    let sum = 0;
    for (const peer of this.peers.values()) if (peer.seenAt >= oldest) sum += peer.models[modelKey]?.demand ?? 0;
    return sum;
  }

  /** Live peers, for /queue. */
  view(): PeerView[] {
    const now = performance.now();
    return [...this.peers].map(([name, p]) => ({ name, lastSeenMsAgo: Math.round(now - p.seenAt), kedaStreams: p.kedaStreams, models: p.models }));
  }

  /** Addresses sent to (self excluded), the name each answered with (undefined before the first answer), and whether it answered last time. */
  targetsView(): Array<{ address: string; peer: string | undefined; reachable: boolean }> {
    return [...this.targets.values()].filter((t) => !t.self).map((t) => ({ address: t.address, peer: t.peer, reachable: !t.failing }));
  }

  /** A message from a peer (already validated). */
  receive(msg: PeerMessage): PeerAck {
    const ack = { name: this.name, incarnation: this.incarnation };
    if (msg.name === this.name && msg.incarnation === this.incarnation) return ack;
    const now = performance.now();
    const previous = this.peers.get(msg.name);
    if (msg.leaving) {
      if (previous) this.opts.logger.info({ peer: msg.name }, "peer left");
      this.peers.delete(msg.name);
      return ack;
    }
    if (previous && previous.incarnation === msg.incarnation && msg.seq <= previous.seq) return ack; // late
    const stale = previous !== undefined && now - previous.seenAt > this.ttlMs;
    if (!previous || stale || previous.incarnation !== msg.incarnation) {
      this.opts.logger.info({ peer: msg.name, incarnation: msg.incarnation }, previous && !stale ? "peer restarted" : "peer joined");
    }
    this.peers.set(msg.name, { incarnation: msg.incarnation, seq: msg.seq, models: msg.models, kedaStreams: msg.kedaStreams, seenAt: now });
    for (const [key, demand] of Object.entries(msg.models)) {
      const wasCold = previous && !stale ? previous.models[key]?.cold === true : false;
      if (demand.cold && !wasCold) this.opts.onRemoteCold(key, now);
    }
    return ack;
  }

  /** Tells every peer this replica is gone (best effort, bounded), then stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const body = this.message(true);
    await Promise.allSettled([...this.targets.values()].filter((t) => !t.self).map((t) => this.post(t, body)));
    if (!this.opts.dispatcher) await this.agent.close(); // one passed in is its owner's to close
  }

  private tick(): void {
    const now = performance.now();
    for (const [name, peer] of this.peers) {
      if (now - peer.seenAt <= this.ttlMs) continue;
      const demand = Object.values(peer.models).reduce((sum, m) => sum + m.demand, 0);
      this.opts.logger.warn({ peer: name, ttlMs: this.ttlMs, demand }, "peer dropped: not heard from within the TTL; its demand no longer counts");
      this.peers.delete(name);
    }
    if (this.state() !== this.lastSent || now - this.lastSentAt >= this.heartbeatMs) this.pushAll();
  }

  /** What peers know of this replica, as compared between ticks: demand per model and whether it holds streams. */
  private state(models = this.opts.local()): string {
    return `${this.opts.holdsKedaStreams?.() === true ? 1 : 0}${JSON.stringify(models)}`;
  }

  private message(leaving = false): string {
    const models = leaving ? {} : this.opts.local();
    const kedaStreams = !leaving && this.opts.holdsKedaStreams?.() === true;
    this.lastSent = this.state(models);
    this.lastSentAt = performance.now();
    const msg: PeerMessage = { name: this.name, incarnation: this.incarnation, seq: ++this.seq, leaving, kedaStreams, models };
    return JSON.stringify(msg);
  }

  /** A peer that holds KEDA's streams, or that has not answered yet (it may). */
  private mayHoldStreams(target: Target): boolean {
    return target.peer === undefined || this.peers.get(target.peer)?.kedaStreams !== false;
  }

  private pushAll(urgent = false): void {
    if (this.closed) return;
    let body: string | undefined;
    // Urgent: two passes, stream holders first. Routine: one pass, in any order.
    for (const first of urgent ? [true, false] : [undefined]) {
      for (const target of this.targets.values()) {
        if (target.self || (first !== undefined && this.mayHoldStreams(target) !== first)) continue;
        if (target.inFlight > 0 && !urgent) {
          target.again = true;
          continue;
        }
        body ??= this.message();
        void this.send(target, body);
      }
    }
    if (body === undefined) {
      // Nobody to send to (alone, or all busy): still note the state, so an unchanged snapshot is not re-sent each tick.
      this.lastSent = this.state();
      this.lastSentAt = performance.now();
    }
  }

  private async send(target: Target, body: string): Promise<void> {
    target.inFlight++;
    try {
      const ack = await this.post(target, body);
      target.peer = ack.name;
      if (ack.name === this.name && ack.incarnation === this.incarnation) {
        target.self = true;
        this.opts.logger.debug({ address: target.address }, "own address in the peer list: skipped");
      } else if (target.failing) {
        target.failing = false;
        this.opts.logger.info({ address: target.address, peer: ack.name }, "peer reachable again");
      }
    } catch (err) {
      if (!target.failing) {
        target.failing = true;
        this.opts.logger.warn({ address: target.address, err: (err as Error).message }, "peer unreachable: demand not sent (retried every heartbeat)");
      }
    } finally {
      target.inFlight--;
    }
    if (target.again && target.inFlight === 0 && !this.closed && this.targets.get(target.address) === target) {
      target.again = false;
      void this.send(target, this.message());
    }
  }

  private async post(target: Target, body: string): Promise<PeerAck> {
    const res = await request(target.url, {
      method: "POST",
      dispatcher: this.agent,
      headers: { "content-type": "application/json", ...(this.token ? { authorization: bearer(this.token) } : {}) },
      body,
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as PeerAck;
  }
}
