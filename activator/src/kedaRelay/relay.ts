/**
 * The KEDA relay: a TCP relay beside the KEDA operator (a container in its pod) that speaks HTTP/2 keepalive on KEDA's
 * behalf on its connection to the activator's scaler Service.
 *
 * Why: KEDA v2.20.2 keeps one pooled gRPC connection per scaler address and dials it without keepalive parameters or
 * deadlines (kedacore/keda v2.20.2 pkg/scalers/external_scaler.go `getClientForConnectionPool`: `grpc.NewClient` with
 * only a service config and transport credentials; no KEDA setting or env var adds `grpc.WithKeepaliveParams` there —
 * pkg/metricsservice/client.go sets one for KEDA's own metrics service only). If the activator replica holding that
 * connection vanishes without a FIN, KEDA waits for TCP retransmission to give up (~15 min) and no model scales.
 *
 * How: KEDA dials the relay on localhost (it lives and dies with KEDA's pod). For each accepted connection the relay
 * opens one upstream connection (TCP keepalive on, `keepAliveMs` initial delay) and copies bytes both ways, tracking
 * HTTP/2 frame boundaries (RFC 9113 §3.4 preface, §4.1 frame header). Every `pingIntervalMs` it writes an HTTP/2 PING
 * (§6.7) to the upstream between two of KEDA's frames; the server must answer with a PING ACK carrying the same 8
 * bytes, which the relay removes from the stream back to KEDA (other PINGs and ACKs pass through). Any byte from
 * upstream counts as alive. When nothing has arrived from upstream for `deadAfterMs`, or the upstream connect takes
 * longer than `deadAfterMs`, the relay destroys both sides: KEDA's transport fails, KEDA reconnects to the relay, and
 * the relay dials the Service again (a live replica). Detection bound: deadAfterMs + pingIntervalMs (defaults
 * 15 s + 5 s = 20 s).
 */
import * as net from "node:net";

const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4)
const HEADER_LENGTH = 9; // length(24) type(8) flags(8) R+stream(32) (RFC 9113 §4.1)
const PING_TYPE = 0x6;
const ACK_FLAG = 0x1;
/** First 4 of the 8 opaque bytes of the relay's own PINGs; the last 4 are a counter. */
const PING_MARK = Buffer.from("kdrl", "ascii");

export interface KedaRelayOptions {
    /** Where KEDA dials: default host "127.0.0.1". */
    listen: { host?: string; port: number };
    /** The activator's scaler Service, `host` and `port`. */
    upstream: { host: string; port: number };
    /** Period of the relay's PINGs to the upstream, ms; default 5000. */
    pingIntervalMs?: number;
    /** Silence from upstream (no byte, PING ACK included) after which both sides are closed, ms; default 15000. */
    deadAfterMs?: number;
    /** Initial delay of TCP keepalive on the upstream socket, ms; default 10000 (kernel interval and count apply). */
    keepAliveMs?: number;
    /** Events for the log: a connection closed because its upstream went silent, or failed. */
    onEvent?: (event: { kind: "upstream-silent" | "upstream-error" | "connect-timeout"; silentMs?: number; error?: string }) => void;
}

export interface KedaRelay {
    /** The port KEDA dials (the one bound when `listen.port` was 0). */
    readonly port: number;
    /** Relayed connection pairs open now. */
    openConnections(): number;
    /** Stops accepting and destroys every open pair. */
    close(): Promise<void>;
}

/** Tracks frame boundaries of one direction; `onFrame` sees each complete frame header (with the bytes it spans). */
class FrameCursor {
    private prefaceLeft: number;
    private header = Buffer.alloc(0);
    private payloadLeft = 0;
    /** Frames seen after the preface. */
    frames = 0;

    constructor(withPreface: boolean) {
        this.prefaceLeft = withPreface ? PREFACE_LENGTH : 0;
    }

    /** True between two frames (no partial header or payload pending), after the preface and KEDA's first SETTINGS. */
    atBoundary(): boolean {
        return this.prefaceLeft === 0 && this.header.length === 0 && this.payloadLeft === 0 && this.frames > 0;
    }

    /**
     * Splits `chunk` into pieces to forward. `keep(header, payload)` decides, for a frame whose length ≤ 8, whether
     * it is forwarded; longer frames are always forwarded. Returns the bytes to forward.
     */
    feed(chunk: Buffer, keep: (type: number, flags: number, payload: Buffer) => boolean): Buffer[] {
        const out: Buffer[] = [];
        let i = 0;
        if (this.prefaceLeft > 0) {
            const n = Math.min(this.prefaceLeft, chunk.length);
            out.push(chunk.subarray(0, n));
            this.prefaceLeft -= n;
            i = n;
        }
        while (i < chunk.length) {
            if (this.payloadLeft > 0) {
                const n = Math.min(this.payloadLeft, chunk.length - i);
                out.push(chunk.subarray(i, i + n));
                this.payloadLeft -= n;
                i += n;
                continue;
            }
            const need = HEADER_LENGTH - this.header.length;
            this.header = Buffer.concat([this.header, chunk.subarray(i, i + need)]);
            i += Math.min(need, chunk.length - i);
            if (this.header.length < HEADER_LENGTH) break;
            const length = this.header.readUIntBE(0, 3);
            const type = this.header[3];
            if (type === PING_TYPE && length === 8) {
                // Held until its payload is complete, so that it can be dropped whole.
                if (this.header.length < HEADER_LENGTH + 8) {
                    const more = Math.min(HEADER_LENGTH + 8 - this.header.length, chunk.length - i);
                    this.header = Buffer.concat([this.header, chunk.subarray(i, i + more)]);
                    i += more;
                    if (this.header.length < HEADER_LENGTH + 8) break;
                }
                if (keep(type, this.header[4], this.header.subarray(HEADER_LENGTH))) out.push(this.header);
            } else {
                out.push(this.header);
                this.payloadLeft = length;
            }
            this.header = Buffer.alloc(0);
            this.frames += 1;
        }
        return out;
    }
}

/** A PING frame (not ACK) with the relay's mark and `counter`. */
function relayPing(counter: number): Buffer {
    const frame = Buffer.alloc(HEADER_LENGTH + 8);
    frame.writeUIntBE(8, 0, 3);
    frame[3] = PING_TYPE;
    PING_MARK.copy(frame, HEADER_LENGTH);
    frame.writeUInt32BE(counter >>> 0, HEADER_LENGTH + 4);
    return frame;
}

const isRelayAck = (type: number, flags: number, payload: Buffer) =>
    type === PING_TYPE && (flags & ACK_FLAG) !== 0 && payload.subarray(0, 4).equals(PING_MARK);

/** Starts the relay; resolves once it listens. Throws (rejects) on a listen error. */
export async function startKedaRelay(options: KedaRelayOptions): Promise<KedaRelay> {
    const pingIntervalMs = options.pingIntervalMs ?? 5000;
    const deadAfterMs = options.deadAfterMs ?? 15_000;
    const keepAliveMs = options.keepAliveMs ?? 10_000;
    const pairs = new Set<() => void>();

    const server = net.createServer((downstream) => {
        const upstream = net.connect({ host: options.upstream.host, port: options.upstream.port });
        upstream.setKeepAlive(true, keepAliveMs);
        upstream.setNoDelay(true);
        downstream.setNoDelay(true);
        const fromKeda = new FrameCursor(true);
        const fromScaler = new FrameCursor(false);
        let connected = false;
        let lastHeard = Date.now();
        let pingDue = false;
        let counter = 0;
        let closed = false;

        const close = (): void => {
            if (closed) return;
            closed = true;
            clearInterval(timer);
            pairs.delete(close);
            downstream.destroy();
            upstream.destroy();
        };
        const sendPing = (): void => {
            pingDue = false;
            upstream.write(relayPing(++counter));
        };
        const timer = setInterval(() => {
            const silentMs = Date.now() - lastHeard;
            if (silentMs >= deadAfterMs) {
                options.onEvent?.(connected ? { kind: "upstream-silent", silentMs } : { kind: "connect-timeout", silentMs });
                close();
                return;
            }
            if (!connected) return;
            if (fromKeda.atBoundary()) sendPing();
            else pingDue = true;
        }, pingIntervalMs);
        pairs.add(close);

        upstream.on("connect", () => {
            connected = true;
            lastHeard = Date.now();
        });
        downstream.on("data", (chunk: Buffer) => {
            for (const piece of fromKeda.feed(chunk, () => true)) {
                if (!upstream.write(piece)) downstream.pause();
            }
            if (pingDue && connected && fromKeda.atBoundary()) sendPing();
        });
        upstream.on("drain", () => downstream.resume());
        upstream.on("data", (chunk: Buffer) => {
            lastHeard = Date.now();
            for (const piece of fromScaler.feed(chunk, (type, flags, payload) => !isRelayAck(type, flags, payload))) {
                if (!downstream.write(piece)) upstream.pause();
            }
        });
        downstream.on("drain", () => upstream.resume());
        upstream.on("error", (err) => {
            options.onEvent?.({ kind: "upstream-error", error: err.message });
            close();
        });
        downstream.on("error", close);
        // A normal close on either side: the other side gets what was written before it, then a FIN.
        upstream.on("close", () => {
            if (closed) return;
            clearInterval(timer);
            downstream.end();
        });
        downstream.on("close", close);
    });

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.listen.port, options.listen.host ?? "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
        });
    });
    return {
        port: (server.address() as net.AddressInfo).port,
        openConnections: () => pairs.size,
        close: async () => {
            for (const close of [...pairs]) close();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}
