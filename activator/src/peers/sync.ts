/**
 * Demand shared between activator replicas, by push: every replica sends its own per-model demand (held + in flight,
 * and whether it holds cold requests) to every peer over a kept WebSocket link to the peer's admin listener (./link,
 * ./endpoint): at once when a model turns cold here, within CHECK_MS of any other change, and every heartbeat
 * regardless. Each replica thus knows the whole cluster's demand without asking anyone at decision time: whichever
 * replica KEDA's gRPC connection lands on answers for all.
 *
 * - Push, not poll: a cold request at replica A reaches the KEDA stream held by replica B in one write on a link
 *   already open (measured by bench/peerPush.ts), where polling (KEDA HTTP add-on's way of summing interceptor
 *   `/queue`) costs up to a polling interval, and a request per message costs an answer and more CPU on both sides.
 * - Full snapshots, numbered: a lost message is repaired by the next; a late one (lower `seq`) is ignored.
 * - Routine changes (counts moving) are sent at most once per CHECK_MS, the latest snapshot only, so a burst of
 *   requests costs a handful of messages, not one per request. The first cold request for a model goes at once,
 *   first to the peers that hold KEDA's streams (each message says whether its sender does; a peer not heard from yet
 *   counts as one): where replicas share a CPU, a peer woken by an earlier write runs first, and the one whose stream
 *   must say `true` should not wait behind it. More cold requests for a model already told cold ride the next tick.
 * - A peer not heard from for `ttlMs` stops counting (logged), and this side's link to it is reopened (it may be
 *   dead without either side knowing); one that says `leaving` is dropped at once. Sending never blocks a decision:
 *   answers to KEDA read the table as it is.
 * - A replica finds itself in a peer list by the hello the receiver sends first, and closes that link.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { systemClock, type Clock, type ClockTimer } from "../base/clock";
import { webSocketLink, type LinkFactory, type LinkHandlers, type PeerLink } from "./link";
import type { PeerAck, PeerMessage, PeerModelDemand } from "./protocol";

/** Non-urgent changes (counts moving while a model is up) reach peers within this. */
export const CHECK_MS = 50;
/** Opening handshake (hello included) and closing bound of a link. */
const LINK_TIMEOUT_MS = 1000;
/** The longest wait between attempts on a refused or lost link is the heartbeat, but never shorter than this. */
const MIN_RETRY_MS = 100;

export interface PeerSyncOptions {
  logger: Logger;
  /** This replica's own demand: models with demand only. */
  local(): Record<string, PeerModelDemand>;
  /** Whether this replica holds any KEDA StreamIsActive now (told to peers, who push cold requests here first). */
  holdsKedaStreams?(): boolean;
  /** A peer reported cold requests for a model it did not before (activation needed, cluster-wide). */
  onRemoteCold(modelKey: string, receivedAt: number): void;
  /** A peer reported activity for a model (a request arrived or ended there); default none. */
  onRemoteActivity?(modelKey: string): void;
  heartbeatMs: number;
  ttlMs: number;
  /** Default: POD_NAME, else `<host>:<pid>`. */
  name?: string;
  /** Opens the link to a peer; default: a WebSocket to its admin listener (tests pass a fake). */
  link?: LinkFactory;
  /** Time for the tick, the TTL and the heartbeat; default: the real clock (tests pass a manual one). */
  clock?: Clock;
}

interface Target {
  readonly address: string;
  readonly link: PeerLink;
  /** This replica's own address (found by the hello): closed, never sent to. */
  self: boolean;
  /** The peer's name from its hello; undefined until it connected once. */
  peer: string | undefined;
  up: boolean;
  /** Down, and already logged as such. */
  failing: boolean;
}

interface PeerEntry {
  incarnation: string;
  seq: number;
  models: Record<string, PeerModelDemand>;
  kedaStreams: boolean;
  /** clock.now() of the last message. */
  seenAt: number;
  /** Per model: clock.now() of the message in which its activity count last moved. */
  activityAt: Map<string, number>;
}

/** What this replica tells its peers: its demand per model (models with demand only) and whether it holds KEDA's streams. */
export interface DemandSnapshot {
  readonly models: Record<string, PeerModelDemand>;
  readonly kedaStreams: boolean;
}

/** The message a replica sends (pure): `seq` numbers it; `leaving` says the sender is gone (no demand then). */
export function peerMessage(sender: PeerAck, seq: number, snapshot: DemandSnapshot, leaving = false): PeerMessage {
  const { models, kedaStreams } = leaving ? { models: {}, kedaStreams: false } : snapshot;
  return { name: sender.name, incarnation: sender.incarnation, seq, leaving, kedaStreams, models };
}

/** A snapshot as compared between ticks (pure): equal strings, nothing new to tell. */
export function snapshotKey(snapshot: DemandSnapshot): string {
  return `${snapshot.kedaStreams ? 1 : 0}${JSON.stringify(snapshot.models)}`;
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
  private readonly openLink: LinkFactory;
  private seq = 0;
  private lastSent = "";
  private lastSentAt = 0;
  /** Models the last message said were cold here: a further cold request for one of them is not urgent. */
  private toldCold = new Set<string>();
  private heartbeatMs: number;
  private ttlMs: number;
  private readonly clock: Clock;
  private timer: ClockTimer | undefined;
  private closed = false;
  /** Shared secret sent with every link and required of every link received; null: none. */
  token: string | null = null;
  /** Whether links from peers are accepted: `peers` is configured (set at start and on every config change). */
  accepting = false;

  constructor(private readonly opts: PeerSyncOptions) {
    this.name = opts.name ?? process.env["POD_NAME"] ?? `${hostname()}:${process.pid}`;
    this.heartbeatMs = opts.heartbeatMs;
    this.ttlMs = opts.ttlMs;
    this.openLink = opts.link ?? webSocketLink;
    this.clock = opts.clock ?? systemClock;
    this.scheduleTick();
  }

  /** The current heartbeat interval, ms (set at start and by `configure`). */
  get heartbeatIntervalMs(): number {
    return this.heartbeatMs;
  }

  configure(heartbeatMs: number, ttlMs: number): void {
    this.heartbeatMs = heartbeatMs;
    this.ttlMs = ttlMs;
  }

  /**
   * Activator replicas: this one plus the peers listed other than itself (its own address, which the headless Service
   * lists too, counts once it has been recognised by its hello; until then it may count twice).
   */
  get replicas(): number {
    let n = 1;
    for (const target of this.targets.values()) if (!target.self) n++;
    return n;
  }

  /** The peers' admin `host:port`s (this replica's own may be among them). */
  setAddresses(addresses: readonly string[]): void {
    if (this.closed) return;
    const wanted = new Set(addresses);
    for (const [address, target] of this.targets) {
      if (wanted.has(address)) continue;
      this.targets.delete(address);
      void target.link.close();
    }
    for (const address of wanted) {
      if (this.targets.has(address)) continue;
      const handlers: LinkHandlers = { onUp: (hello) => this.linkUp(target, hello), onDown: (reason) => this.linkDown(target, reason) };
      const retryMs = Math.max(MIN_RETRY_MS, this.heartbeatMs);
      const link = this.openLink(address, handlers, { token: () => this.token, retryMs, timeoutMs: LINK_TIMEOUT_MS });
      const target: Target = { address, link, self: false, peer: undefined, up: false, failing: false };
      this.targets.set(address, target);
    }
  }

  /** A cold request arrived here for `modelKey`: tell every peer now, unless they were already told it is cold. */
  pushNow(modelKey?: string): void {
    if (modelKey !== undefined && this.toldCold.has(modelKey)) return;
    this.pushAll("urgent");
  }

  /** Sum of the live peers' demand for a model. */
  remoteDemand(modelKey: string): number {
    let sum = 0;
    for (const peer of this.livePeers()) sum += peer.models[modelKey]?.demand ?? 0;
    return sum;
  }

  /** Latest activity reported by a live peer for a model (clock.now() of receipt, ms); -Infinity when none. */
  remoteLastActivityAt(modelKey: string): number {
    let latest = -Infinity;
    for (const peer of this.livePeers()) latest = Math.max(latest, peer.activityAt.get(modelKey) ?? -Infinity);
    return latest;
  }

  /** Live peers, for /queue. */
  view(): PeerView[] {
    const now = this.clock.now();
    return [...this.peers].map(([name, p]) => ({ name, lastSeenMsAgo: Math.round(now - p.seenAt), kedaStreams: p.kedaStreams, models: p.models }));
  }

  /** Addresses sent to (self excluded), the name each answered with (undefined before the first hello), and whether its link is up. */
  targetsView(): Array<{ address: string; peer: string | undefined; reachable: boolean }> {
    return [...this.targets.values()].filter((t) => !t.self).map((t) => ({ address: t.address, peer: t.peer, reachable: t.up }));
  }

  /**
   * How long a link from a peer may stay silent before this side closes it, ms: twice the TTL (senders send at least
   * every heartbeat, and the TTL is over twice that), so a late timer on a busy replica does not cut a live link.
   */
  idleLinkMs(): number {
    return 2 * this.ttlMs;
  }

  /** What this replica says first on every link it accepts. */
  hello(): PeerAck {
    return { name: this.name, incarnation: this.incarnation };
  }

  /** A message from a peer (already validated). */
  receive(msg: PeerMessage): void {
    if (msg.name === this.name && msg.incarnation === this.incarnation) return;
    const now = this.clock.now();
    const previous = this.peers.get(msg.name);
    if (msg.leaving) {
      if (previous) this.opts.logger.info({ peer: msg.name }, "peer left");
      this.peers.delete(msg.name);
      return;
    }
    if (previous && previous.incarnation === msg.incarnation && msg.seq <= previous.seq) return; // late
    const stale = previous !== undefined && now - previous.seenAt > this.ttlMs;
    if (!previous || stale || previous.incarnation !== msg.incarnation) {
      this.opts.logger.info({ peer: msg.name, incarnation: msg.incarnation }, previous && !stale ? "peer restarted" : "peer joined");
    }
    const same = previous !== undefined && !stale && previous.incarnation === msg.incarnation;
    const activityAt = same ? previous.activityAt : new Map<string, number>();
    for (const [key, m] of Object.entries(msg.models)) {
      if (m.activity === undefined || (same && previous.models[key]?.activity === m.activity)) continue;
      activityAt.set(key, now);
      this.opts.onRemoteActivity?.(key);
    }
    this.peers.set(msg.name, { incarnation: msg.incarnation, seq: msg.seq, models: msg.models, kedaStreams: msg.kedaStreams, seenAt: now, activityAt });
    for (const [key, demand] of Object.entries(msg.models)) {
      const wasCold = previous && !stale ? previous.models[key]?.cold === true : false;
      if (demand.cold && !wasCold) this.opts.onRemoteCold(key, now);
    }
  }

  /** Tells every peer this replica is gone (best effort, bounded), then stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    const body = this.encode(this.snapshot(), { leaving: true });
    await Promise.allSettled([...this.targets.values()].map((t) => t.link.close(t.self ? undefined : body)));
  }

  private linkUp(target: Target, hello: PeerAck): void {
    target.peer = hello.name;
    if (hello.name === this.name && hello.incarnation === this.incarnation) {
      target.self = true;
      this.opts.logger.debug({ address: target.address }, "own address in the peer list: skipped");
      void target.link.close();
      return;
    }
    target.up = true;
    if (target.failing) {
      target.failing = false;
      this.opts.logger.info({ address: target.address, peer: hello.name }, "peer reachable again");
    }
    // A new or returning peer learns this replica's demand now, not at the next heartbeat. Not noted as sent: the
    // others have not had it, and a change still to go out at the next tick must still go out.
    if (!this.closed) target.link.send(this.encode(this.snapshot()));
  }

  private linkDown(target: Target, reason: string): void {
    target.up = false;
    if (target.failing || this.closed) return;
    target.failing = true;
    this.opts.logger.warn({ address: target.address, err: reason }, "peer unreachable: demand not sent (retried after 100 ms, backing off to once per heartbeat)");
  }

  /** Every CHECK_MS until closed. */
  private scheduleTick(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.scheduleTick(); // first: a tick that throws does not stop the next
      this.tick();
    }, CHECK_MS);
  }

  private tick(): void {
    const now = this.clock.now();
    for (const [name, peer] of this.peers) {
      if (now - peer.seenAt <= this.ttlMs) continue;
      const demand = Object.values(peer.models).reduce((sum, m) => sum + m.demand, 0);
      this.opts.logger.warn({ peer: name, ttlMs: this.ttlMs, demand }, "peer dropped: not heard from within the TTL; its demand no longer counts");
      this.peers.delete(name);
      // Silent on its side may mean dead on ours too (no FIN from a vanished node): reconnect to learn which.
      for (const target of this.targets.values()) if (target.peer === name && target.up) target.link.reset();
    }
    const snapshot = this.snapshot();
    const key = snapshotKey(snapshot);
    if (key !== this.lastSent || now - this.lastSentAt >= this.heartbeatMs) this.pushAll("routine", snapshot, key);
  }

  /** This replica's demand now, read once. */
  private snapshot(): DemandSnapshot {
    return { models: this.opts.local(), kedaStreams: this.opts.holdsKedaStreams?.() === true };
  }

  /** The next numbered message for `snapshot`, serialised. */
  private encode(snapshot: DemandSnapshot, { leaving = false } = {}): string {
    return JSON.stringify(peerMessage(this.hello(), ++this.seq, snapshot, leaving));
  }

  /**
   * Notes `snapshot` as what every peer now knows: the next tick re-sends only a different one (or at the heartbeat),
   * and pushNow skips models it already said were cold. `sentKey`: snapshotKey(snapshot), when the caller already has it.
   */
  private noteSentToAll(snapshot: DemandSnapshot, sentKey = snapshotKey(snapshot)): void {
    this.lastSent = sentKey;
    this.lastSentAt = this.clock.now();
    this.toldCold.clear();
    for (const [key, demand] of Object.entries(snapshot.models)) if (demand.cold) this.toldCold.add(key);
  }

  /** Peers heard from within the TTL (clock.now()); a silent one stops counting here before the tick forgets it. */
  private *livePeers(): Iterable<PeerEntry> {
    const oldest = this.clock.now() - this.ttlMs;
    for (const peer of this.peers.values()) if (peer.seenAt >= oldest) yield peer;
  }

  /** A peer that holds KEDA's streams, or that has not said yet (it may). */
  private mayHoldStreams(target: Target): boolean {
    return target.peer === undefined || this.peers.get(target.peer)?.kedaStreams !== false;
  }

  /**
   * Sends `snapshot` (read now if not given) to every peer whose link is up; "urgent": stream holders first. `key`:
   * snapshotKey(snapshot), when the caller already has it.
   */
  private pushAll(order: "urgent" | "routine", snapshot = this.snapshot(), key?: string): void {
    if (this.closed) return;
    this.noteSentToAll(snapshot, key); // even with nobody to send to: an unchanged snapshot is not re-sent each tick
    const body = this.encode(snapshot);
    // Urgent: two passes, stream holders first. Routine: one pass, in any order.
    for (const first of order === "urgent" ? [true, false] : [undefined]) {
      for (const target of this.targets.values()) {
        if (!target.up || target.self || (first !== undefined && this.mayHoldStreams(target) !== first)) continue;
        target.link.send(body);
      }
    }
  }
}
