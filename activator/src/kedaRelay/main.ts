/**
 * The KEDA relay's command, from the activator's image, run as a container in the KEDA operator's pod
 * (components/manifests/charts/keda.ts `kedaRelayContainer`):
 *
 *   node activator/dist/kedaRelay/main.js --listen 9095 --upstream activator-scaler.NS.svc.cluster.local:9090
 *
 * Options: `--listen PORT` (binds 127.0.0.1; KEDA's ScaledObjects name `localhost:PORT`), `--upstream HOST:PORT`
 * (the activator's scaler Service), `--ping-interval-ms` (default 5000), `--dead-after-ms` (default 15000). No
 * Kubernetes API access, no token. Stops on SIGTERM/SIGINT. See ./relay.ts.
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { startKedaRelay, type KedaRelayOptions } from "./relay";

const USAGE = "usage: node dist/kedaRelay/main.js --listen PORT --upstream HOST:PORT [--ping-interval-ms MS] [--dead-after-ms MS]";

/** Parses the command line; throws one line naming the bad option. */
export function relayOptionsFrom(args: string[]): KedaRelayOptions {
    const { values } = parseArgs({
        args,
        options: {
            listen: { type: "string" },
            upstream: { type: "string" },
            "ping-interval-ms": { type: "string" },
            "dead-after-ms": { type: "string" },
        },
    });
    const positive = (name: string, value: string | undefined, max: number): number | undefined => {
        if (value === undefined) return undefined;
        const n = /^\d+$/.test(value) ? Number(value) : NaN;
        if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name}: expected an integer 1..${max}, got ${JSON.stringify(value)}`);
        return n;
    };
    const listen = positive("listen", values.listen, 65535);
    if (listen === undefined) throw new Error(`--listen: required (${USAGE})`);
    const match = /^([^\s:/]+):(\d+)$/.exec(values.upstream ?? "");
    if (!match) throw new Error(`--upstream: expected HOST:PORT, got ${JSON.stringify(values.upstream ?? "")} (${USAGE})`);
    const pingIntervalMs = positive("ping-interval-ms", values["ping-interval-ms"], 600_000);
    const deadAfterMs = positive("dead-after-ms", values["dead-after-ms"], 3_600_000);
    if ((deadAfterMs ?? 15_000) <= (pingIntervalMs ?? 5000)) {
        throw new Error("--dead-after-ms must be longer than --ping-interval-ms (a live upstream answers each PING within one interval)");
    }
    return {
        listen: { port: listen },
        upstream: { host: match[1], port: positive("upstream port", match[2], 65535)! },
        ...(pingIntervalMs !== undefined ? { pingIntervalMs } : {}),
        ...(deadAfterMs !== undefined ? { deadAfterMs } : {}),
    };
}

async function main(): Promise<void> {
    const logger = pino({ base: { service: "keda-relay" } }, pino.destination({ dest: 1, sync: true }));
    let options: KedaRelayOptions;
    try {
        options = relayOptionsFrom(process.argv.slice(2));
    } catch (err) {
        logger.error((err as Error).message);
        process.exit(2);
    }
    const relay = await startKedaRelay({
        ...options,
        onEvent: (event) => logger.warn(event, event.kind === "upstream-error" ? "upstream connection failed; KEDA's side closed" : "upstream silent; both sides closed so that KEDA reconnects"),
    });
    logger.info({ port: relay.port, upstream: options.upstream }, "KEDA relay listening");
    const stop = (): void => {
        void relay.close().then(() => process.exit(0));
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err instanceof Error ? err.message : String(err));
        process.exit(1);
    });
}
