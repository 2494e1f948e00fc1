/**
 * The KEDA relay (activator/src/kedaRelay) over real sockets: KEDA's gRPC client (grpc-js here, KEDA's connection
 * shape: one connection, a StreamIsActive stream and unary polls) dials the relay, the relay dials the real scaler
 * server through a switchable TCP path that can drop every byte without a FIN or RST, as a vanished node does.
 * Periods are short and configurable (ping 50 ms, dead after 300 ms): the bound asserted is deadAfter + ping + slack.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import pino from "pino";
import { relayOptionsFrom } from "../../../activator/src/kedaRelay/main";
import { startKedaRelay, type KedaRelay } from "../../../activator/src/kedaRelay/relay";
import type { ModelActivity } from "../../../activator/src/scaler/activity";
import { startScalerServer, type ScalerServer } from "../../../activator/src/scaler/server";
import { sleep } from "../../../testing/activator/http";
import { KedaClient } from "../../../testing/activator/kedaClient";

const PING_MS = 50;
const DEAD_MS = 300;
/** Timer granularity and scheduling on a shared CI machine. */
const SLACK_MS = 400;
const MODEL = "default/llama";

/** A TCP path to `target` whose open connections can be made to drop every byte in both directions, with no FIN. */
async function switchablePath(target: number): Promise<{ port: number; blackholeOpen(): void; opened(): number; close(): Promise<void> }> {
    const open = new Set<{ dead: boolean; a: net.Socket; b: net.Socket }>();
    let count = 0;
    const server = net.createServer((a) => {
        const b = net.connect(target, "127.0.0.1");
        const link = { dead: false, a, b };
        count += 1;
        open.add(link);
        a.on("data", (d) => link.dead || b.write(d));
        b.on("data", (d) => link.dead || a.write(d));
        // A dead link never closes its peer: the vanished side sends nothing at all.
        a.on("close", () => link.dead || b.destroy());
        b.on("close", () => link.dead || a.destroy());
        a.on("error", () => undefined);
        b.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        port: (server.address() as net.AddressInfo).port,
        blackholeOpen: () => open.forEach((link) => (link.dead = true)),
        opened: () => count,
        close: async () => {
            open.forEach((link) => (link.a.destroy(), link.b.destroy()));
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}

/** Demand the test sets; arrive() fires the activation event the holding code fires for a cold model. */
function fakeActivity(): ModelActivity & { arrive(): void } {
    let demand = 0;
    let last = -Infinity;
    const listeners = new Set<(key: string, at: number) => void>();
    return {
        has: (key) => key === MODEL,
        demand: () => demand,
        targetConcurrency: () => 1,
        lastActivityAt: () => last,
        onRequest: () => () => undefined,
        onActivationNeeded: (listener) => (listeners.add(listener), () => listeners.delete(listener)),
        arrive: () => {
            demand += 1;
            last = performance.now();
            listeners.forEach((listener) => listener(MODEL, last));
        },
    } as ModelActivity & { arrive(): void };
}

describe("KEDA relay (keepalive on KEDA's behalf)", function () {
    this.timeout(15_000);
    let scaler: ScalerServer;
    let activity: ReturnType<typeof fakeActivity>;
    let path: Awaited<ReturnType<typeof switchablePath>>;
    let relay: KedaRelay;
    let keda: KedaClient;
    const events: string[] = [];

    beforeEach(async () => {
        activity = fakeActivity();
        scaler = await startScalerServer({ host: "127.0.0.1", port: 0, activity, logger: pino({ level: "silent" }), heartbeatMs: 10_000 });
        path = await switchablePath(scaler.port);
        events.length = 0;
        relay = await startKedaRelay({
            listen: { port: 0 },
            upstream: { host: "127.0.0.1", port: path.port },
            pingIntervalMs: PING_MS,
            deadAfterMs: DEAD_MS,
            onEvent: (e) => events.push(e.kind),
        });
        keda = new KedaClient(`127.0.0.1:${relay.port}`);
    });
    afterEach(async () => {
        keda.close();
        await relay.close();
        await path.close();
        await scaler.close(100);
    });

    it("keeps a live upstream that sends nothing for many dead-after periods (its PINGs are answered)", async () => {
        const stream = keda.streamIsActive(MODEL);
        assert.equal((await stream.next()).result, false, "the stream's first message: the idle model's state");
        await sleep(4 * DEAD_MS); // the heartbeat is 10 s: nothing but PING ACKs comes from upstream meanwhile
        assert.deepEqual(events, [], "no connection closed");
        assert.equal(relay.openConnections(), 1);
        activity.arrive();
        assert.equal((await stream.nextTrue(1000)).result, true, "the activation still reaches KEDA");
        assert.equal(await keda.isActive(MODEL), true, "and a poll over the same connection");
    });

    it("closes KEDA's side within deadAfter + ping interval when the upstream vanishes without a FIN; KEDA's next call reaches a live path", async () => {
        const stream = keda.streamIsActive(MODEL);
        await stream.next();
        const vanished = performance.now();
        path.blackholeOpen();
        const end = await stream.ended;
        const detectedMs = performance.now() - vanished;
        assert.equal(end.code, 14, `the stream fails UNAVAILABLE (got ${end.code} ${end.details}), so KEDA retries`);
        assert.ok(detectedMs <= DEAD_MS + PING_MS + SLACK_MS, `closed after ${Math.round(detectedMs)} ms`);
        assert.ok(detectedMs >= DEAD_MS - PING_MS, `not before the upstream was silent for deadAfter (${Math.round(detectedMs)} ms)`);
        assert.deepEqual(events, ["upstream-silent"]);

        const again = keda.streamIsActive(MODEL);
        await again.next();
        activity.arrive();
        assert.equal((await again.nextTrue(1000)).result, true, "a new stream over a new upstream connection wakes the model");
        assert.equal(path.opened(), 2);
    });

    it("passes a normal close through: the scaler's shutdown ends the stream with OK", async () => {
        const stream = keda.streamIsActive(MODEL);
        await stream.next();
        await scaler.close(1000);
        const end = await stream.ended;
        assert.equal(end.code, 0, `OK status, as without the relay (got ${end.code} ${end.details})`);
        await sleep(100);
        assert.equal(relay.openConnections(), 0);
        assert.deepEqual(events, []);
    });
});

describe("KEDA relay with many connections (HTTP/2 sessions)", function () {
    this.timeout(15_000);

    it("relays each session on its own upstream connection and closes every one whose upstream vanished", async () => {
        const server = http2.createServer((_req, res) => res.end("ok"));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const path = await switchablePath((server.address() as net.AddressInfo).port);
        const relay = await startKedaRelay({ listen: { port: 0 }, upstream: { host: "127.0.0.1", port: path.port }, pingIntervalMs: PING_MS, deadAfterMs: DEAD_MS });
        const sessions = Array.from({ length: 30 }, () => http2.connect(`http://127.0.0.1:${relay.port}`));
        try {
            const bodies = await Promise.all(
                sessions.map(
                    (s) =>
                        new Promise<string>((resolve, reject) => {
                            let body = "";
                            s.request({ ":path": "/" }).setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve(body)).on("error", reject);
                        }),
                ),
            );
            assert.deepEqual(new Set(bodies), new Set(["ok"]));
            assert.equal(relay.openConnections(), 30);
            await sleep(3 * DEAD_MS);
            assert.equal(relay.openConnections(), 30, "live upstreams stay connected");
            const closed = sessions.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once("close", resolve))));
            sessions.forEach((s) => s.on("error", () => undefined));
            const vanished = performance.now();
            path.blackholeOpen();
            await Promise.all(closed);
            const ms = performance.now() - vanished;
            assert.ok(ms <= DEAD_MS + PING_MS + SLACK_MS, `all 30 closed after ${Math.round(ms)} ms`);
            assert.equal(relay.openConnections(), 0);
        } finally {
            sessions.forEach((s) => s.destroy());
            await relay.close();
            await path.close();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        }
    });

    it("never hands KEDA the ACKs of its own PINGs (the bytes back are the server's frames only)", async () => {
        const server = http2.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const relay = await startKedaRelay({ listen: { port: 0 }, upstream: { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port }, pingIntervalMs: PING_MS, deadAfterMs: DEAD_MS });
        const raw = net.connect(relay.port, "127.0.0.1");
        const received: Buffer[] = [];
        raw.on("data", (d) => received.push(d));
        // Client preface and an empty SETTINGS frame (RFC 9113 §3.4), then a PING of the client's own (§6.7).
        raw.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
        raw.write(Buffer.concat([Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0]), Buffer.from("clientpg")]));
        await sleep(6 * PING_MS);
        raw.destroy();
        await relay.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        const bytes = Buffer.concat(received);
        const pings: string[] = [];
        for (let i = 0; i + 9 <= bytes.length; ) {
            const length = bytes.readUIntBE(i, 3);
            if (bytes[i + 3] === 6) pings.push(`${bytes[i + 4] & 1 ? "ack" : "ping"}:${bytes.subarray(i + 9, i + 17).toString("latin1")}`);
            i += 9 + length;
        }
        assert.deepEqual(pings, ["ack:clientpg"], "the client's own PING is answered; the relay's several are not seen");
    });
});

describe("KEDA relay command line", () => {
    it("reads --listen and --upstream, and refuses what it cannot use with one line naming the option", () => {
        assert.deepEqual(relayOptionsFrom(["--listen", "9095", "--upstream", "activator-scaler.gpu.svc.cluster.local:9090"]), {
            listen: { port: 9095 },
            upstream: { host: "activator-scaler.gpu.svc.cluster.local", port: 9090 },
        });
        assert.throws(() => relayOptionsFrom(["--upstream", "a:1"]), /^Error: --listen: required/);
        assert.throws(() => relayOptionsFrom(["--listen", "9095", "--upstream", "a"]), /^Error: --upstream: expected HOST:PORT, got "a"/);
        assert.throws(() => relayOptionsFrom(["--listen", "0x10", "--upstream", "a:1"]), /^Error: --listen: expected an integer 1\.\.65535/);
        assert.throws(() => relayOptionsFrom(["--listen", "1", "--upstream", "a:1", "--dead-after-ms", "100", "--ping-interval-ms", "100"]), /--dead-after-ms must be longer/);
    });
});
