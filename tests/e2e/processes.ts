/**
 * Processes of the end-to-end suite: each started with its output in `<runDir>/logs/<name>.log`, stopped by its pid
 * only (SIGTERM, then SIGKILL).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export interface Started {
    readonly name: string;
    readonly child: ChildProcess;
    readonly log: string;
    /** Resolves with the exit code (or signal) once the process has ended. */
    readonly exited: Promise<number | string>;
    /** True once it has exited. */
    hasExited(): boolean;
}

export class Processes {
    private readonly running = new Map<string, Started>();

    constructor(private readonly runDir: string) {
        fs.mkdirSync(path.join(runDir, "logs"), { recursive: true });
    }

    start(name: string, command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Started {
        if (this.running.has(name) && !this.running.get(name)!.hasExited()) throw new Error(`${name} is already running`);
        const log = path.join(this.runDir, "logs", `${name}.log`);
        const out = fs.openSync(log, "a");
        const child = spawn(command, args, { stdio: ["ignore", out, out], env: { ...process.env, ...options.env }, cwd: options.cwd });
        fs.closeSync(out);
        let ended = false;
        const exited = new Promise<number | string>((resolve) =>
            child.on("exit", (code, signal) => {
                ended = true;
                resolve(code ?? signal ?? "unknown");
            }),
        );
        const started: Started = { name, child, log, exited, hasExited: () => ended };
        this.running.set(name, started);
        return started;
    }

    get(name: string): Started | undefined {
        return this.running.get(name);
    }

    /** Stops one process: SIGTERM, SIGKILL after `graceMs`. */
    async stop(name: string, graceMs = 5000, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
        const p = this.running.get(name);
        if (!p || p.hasExited()) return;
        p.child.kill(signal);
        const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
        await p.exited;
        clearTimeout(timer);
    }

    /** Stops every process, in reverse start order. */
    async stopAll(): Promise<void> {
        for (const name of [...this.running.keys()].reverse()) await this.stop(name);
    }

    /** The last `lines` lines of a process's log, for failure messages. */
    tail(name: string, lines = 30): string {
        const p = this.running.get(name);
        if (!p) return "";
        const text = fs.readFileSync(p.log, "utf8").trimEnd().split("\n");
        return text.slice(-lines).join("\n");
    }
}

/** Runs openssl with `args` in `dir` (certificates for the API server, webhooks and KEDA's gRPC server). */
export function openssl(dir: string, args: string[]): void {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A client certificate `<cn>.crt`/`<cn>.key` (CN `cn`, clientAuth) signed by the CA of {@link makeCertificates} in `dir`. */
export function makeClientCertificate(dir: string, cn: string): void {
    fs.writeFileSync(path.join(dir, `${cn}.cnf`), "extendedKeyUsage=clientAuth\n");
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${cn}.key`, "-out", `${cn}.csr`, "-subj", `/CN=${cn}`]);
    openssl(dir, ["x509", "-req", "-in", `${cn}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${cn}.crt`, "-days", "2", "-extfile", `${cn}.cnf`]);
}

/**
 * A CA and, signed by it, one serving certificate valid for 127.0.0.1, localhost and `extraNames` (DNS). Writes
 * ca.crt/ca.key and tls.crt/tls.key into `dir`; the same pair serves the API server, KServe's webhook server and
 * KEDA's gRPC server.
 */
export function makeCertificates(dir: string, extraNames: string[] = []): { ca: string; cert: string; key: string } {
    fs.mkdirSync(dir, { recursive: true });
    openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=gpu-serverless-e2e-ca"]);
    const san = ["IP:127.0.0.1", "DNS:localhost", ...extraNames.map((n) => `DNS:${n}`)].join(",");
    fs.writeFileSync(path.join(dir, "ext.cnf"), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=127.0.0.1"]);
    openssl(dir, ["x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "ext.cnf"]);
    // Service-account token signing keys for the API server.
    openssl(dir, ["genrsa", "-out", "sa.key", "2048"]);
    openssl(dir, ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
    return { ca: path.join(dir, "ca.crt"), cert: path.join(dir, "tls.crt"), key: path.join(dir, "tls.key") };
}

/** A TCP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
    for (;;) {
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
        const port = (server.address() as net.AddressInfo).port;
        await new Promise<void>((resolve) => server.close(() => resolve()));
        // The kernel may offer a port again once it is closed, before the program it was meant for binds it (seen: KEDA's
        // metrics service and health probe given the same port): never hand out one port twice in this process.
        if (handedOut.has(port)) continue;
        handedOut.add(port);
        return port;
    }
}

const handedOut = new Set<number>();

/**
 * The flags of a single-member etcd on 127.0.0.1 (client and peer ports, data under `dataDir`), as both control planes
 * of the suite run it (./cluster.ts and nodeCache.e2e.ts).
 */
export function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
    return [
        `--data-dir=${dataDir}`,
        `--listen-client-urls=http://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        "--unsafe-no-fsync",
        "--log-level=warn",
    ];
}

/**
 * Writes `tokens.csv` in `runDir` with a fresh admin token (group system:masters) and gives the kube-apiserver flags
 * both control planes share: etcd at `etcdPort`, HTTPS on 127.0.0.1:`apiPort` with the certificates `pki(file)` names
 * (tls.crt/key, ca.crt, sa.pub/key), RBAC, no endpoint reconciler. Returns the token and the flags.
 */
export function apiServerArgs(o: { runDir: string; etcdPort: number; apiPort: number; pki: (file: string) => string }): { token: string; args: string[] } {
    const token = require("node:crypto").randomBytes(24).toString("hex");
    fs.writeFileSync(path.join(o.runDir, "tokens.csv"), `${token},e2e-admin,e2e-admin,"system:masters"\n`);
    const args = [
        `--etcd-servers=http://127.0.0.1:${o.etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${o.apiPort}`,
        `--cert-dir=${path.join(o.runDir, "apiserver")}`,
        `--tls-cert-file=${o.pki("tls.crt")}`,
        `--tls-private-key-file=${o.pki("tls.key")}`,
        `--client-ca-file=${o.pki("ca.crt")}`,
        `--token-auth-file=${path.join(o.runDir, "tokens.csv")}`,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${o.pki("sa.pub")}`,
        `--service-account-signing-key-file=${o.pki("sa.key")}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--endpoint-reconciler-type=none",
    ];
    return { token, args };
}
