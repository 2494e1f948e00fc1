/**
 * KEDA's HTTP add-on interceptor (github.com/kedacore/http-add-on), the public push-activating interceptor, as the
 * warm-path bench's real peer: built once from the Go module proxy into a cache folder outside the clone, then run
 * as a process against a stand-in Kubernetes API.
 *
 * Version: v0.15.0, the newest release the module proxy serves here (v0.16 / v1.0 answer 403), and the one whose own
 * end-to-end suite installs KEDA 2.20.0 (http-add-on v0.15.0 Makefile, `KEDA_VERSION ?= 2.20.0`): the KEDA line this
 * stack pins (components/domain/versions.ts). Built as upstream's release does (.ko.yaml at v0.15.0): CGO_ENABLED=0,
 * `-s -w`, `-X .../pkg/build.version`.
 *
 * Cache: `${XDG_CACHE_HOME:-$HOME/.cache}/gpu-serverless/bench/keda-http-interceptor-v0.15.0/` holding
 * `bin/keda-http-interceptor`, `build.json` (what was built, with which Go, in how long) and `src/` (the generated
 * module). Reused when present; nothing built is committed. The module is built from a generated module that
 * requires http-add-on at the pinned version with upstream's own go.mod requirements and go.sum (replace directives
 * copied; upstream has none at v0.15.0), under `-mod=readonly`: no dependency version other than upstream's is used,
 * and nothing but the Go module proxy is contacted.
 *
 * What the interceptor reads, from its source at v0.15.0 (interceptor/main.go, pkg/routing/table.go,
 * pkg/k8s/ready_endpoints_cache.go, interceptor/middleware/routing.go, interceptor/handler/upstream.go):
 * - a controller-runtime cache (KUBECONFIG) listing and watching InterceptorRoutes (http.keda.sh/v1beta1) and
 *   HTTPScaledObjects (v1alpha1) for the routing table, EndpointSlices for readiness (a route's Service is ready
 *   when one slice labelled `kubernetes.io/service-name` has a ready endpoint with an address), and Services
 *   (read on every request to choose HTTP/1.1 or h2c from the port's appProtocol); ConfigMaps (labelled ones, for
 *   placeholder bodies: none here, but the type must be discoverable for the cache to start);
 * - it forwards to `http://<service>.<namespace>:<port>`: a DNS name, which a cluster resolves to the Service's
 *   ClusterIP. Here the interceptor runs in its own mount namespace (`unshare -m`) with a hosts file bind-mounted
 *   on /etc/hosts mapping that name to 127.0.0.1 (Go's resolver reads /etc/hosts first); the host's file is
 *   untouched.
 * - env: KEDA_HTTP_PROXY_PORT, KEDA_HTTP_ADMIN_PORT (required), OTEL_PROM_EXPORTER_PORT (metrics, on by default);
 *   flags as upstream's Deployment (config/interceptor/deployment.yaml): info-level console logs.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { freePort } from "../../tests/activator/testing/backend";
import { CONFIG_MAPS, ENDPOINT_SLICES, FakeListWatchApi, SERVICES, type ResourceType } from "./listWatchApi";
import { waitForPort } from "./nginx";
import { findBinary, removeOnExit, spawnChild, type Spawned } from "./processes";
import { deadline, sleep } from "./report";

export const INTERCEPTOR_MODULE = "github.com/kedacore/http-add-on";
export const INTERCEPTOR_VERSION = "v0.15.0";
const PACKAGE = `${INTERCEPTOR_MODULE}/interceptor`;
const BINARY_NAME = "keda-http-interceptor";

export const INTERCEPTOR_ROUTES: ResourceType = { group: "http.keda.sh", version: "v1beta1", resource: "interceptorroutes", kind: "InterceptorRoute", namespaced: true };
export const HTTP_SCALED_OBJECTS: ResourceType = { group: "http.keda.sh", version: "v1alpha1", resource: "httpscaledobjects", kind: "HTTPScaledObject", namespaced: true };

/** The cache folder of the pinned version (outside the clone, kept across runs and fresh clones). */
export function interceptorCacheDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache");
  return path.join(cacheHome, "gpu-serverless", "bench", `keda-http-interceptor-${INTERCEPTOR_VERSION}`);
}

/** The built binary when the cache holds it, else undefined. */
export function interceptorBinary(): string | undefined {
  const file = path.join(interceptorCacheDir(), "bin", BINARY_NAME);
  return existsSync(file) ? file : undefined;
}

/** What build.json records. */
export interface InterceptorBuild {
  module: string;
  version: string;
  /** The module zip's checksum (go.sum h1:), as the module proxy and checksum database gave it. */
  sum: string;
  go: string;
  seconds: number;
  builtAt: string;
}

export function interceptorBuildInfo(): InterceptorBuild | undefined {
  try {
    return JSON.parse(readFileSync(path.join(interceptorCacheDir(), "build.json"), "utf8")) as InterceptorBuild;
  } catch {
    return undefined;
  }
}

/**
 * The binary, built first when the cache lacks it (minutes on 2 cores, `nice -n 10`). Throws with the reason
 * (no Go, the module proxy unreachable, a compile error with the tail of its log).
 */
export async function ensureInterceptor(log: (m: string) => void): Promise<string> {
  const existing = interceptorBinary();
  if (existing) return existing;
  const go = findBinary("go");
  if (!go) throw new Error(`Go not found: the interceptor ${INTERCEPTOR_MODULE}@${INTERCEPTOR_VERSION} is built from the Go module proxy (Go 1.25.6 or later)`);
  const dir = interceptorCacheDir();
  mkdirSync(path.dirname(dir), { recursive: true });
  const work = mkdtempSync(`${dir}.building-`);
  chmodSync(work, 0o755);
  try {
    const started = performance.now();
    log(`building ${PACKAGE}@${INTERCEPTOR_VERSION} into ${dir} (once; minutes on a small machine)`);
    const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly", GOWORK: "off", GOTOOLCHAIN: "local" };
    const download = spawnSync(go, ["mod", "download", "-json", `${INTERCEPTOR_MODULE}@${INTERCEPTOR_VERSION}`], { encoding: "utf8", env, cwd: work });
    const module = JSON.parse(download.stdout || "{}") as { Dir?: string; Sum?: string; GoModSum?: string; Error?: string };
    if (download.status !== 0 || !module.Dir || !module.Sum || !module.GoModSum) {
      throw new Error(`go mod download ${INTERCEPTOR_MODULE}@${INTERCEPTOR_VERSION} failed: ${module.Error ?? download.stderr}`);
    }
    const src = path.join(work, "src");
    mkdirSync(src);
    writeFileSync(path.join(src, "go.mod"), buildModule(readFileSync(path.join(module.Dir, "go.mod"), "utf8")));
    writeFileSync(
      path.join(src, "go.sum"),
      `${readFileSync(path.join(module.Dir, "go.sum"), "utf8").trimEnd()}\n` +
        `${INTERCEPTOR_MODULE} ${INTERCEPTOR_VERSION} ${module.Sum}\n${INTERCEPTOR_MODULE} ${INTERCEPTOR_VERSION}/go.mod ${module.GoModSum}\n`,
    );
    const ldflags = `-s -w -X ${INTERCEPTOR_MODULE}/pkg/build.version=${INTERCEPTOR_VERSION}`;
    const args = ["-n", "10", go, "build", "-trimpath", "-ldflags", ldflags, "-o", path.join(work, "bin", BINARY_NAME), PACKAGE];
    const logFile = path.join(work, "build.log");
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn("nice", args, { cwd: src, env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      const keep = (d: Buffer) => (output = (output + d.toString()).slice(-64 * 1024));
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      child.once("error", reject);
      child.once("exit", (c) => {
        writeFileSync(logFile, output);
        resolve(c);
      });
    });
    if (code !== 0) throw new Error(`go build ${PACKAGE} failed (exit ${code}):\n${readFileSync(logFile, "utf8").slice(-4000)}`);
    const info: InterceptorBuild = {
      module: INTERCEPTOR_MODULE,
      version: INTERCEPTOR_VERSION,
      sum: module.Sum,
      go: spawnSync(go, ["version"], { encoding: "utf8" }).stdout.trim(),
      seconds: Math.round((performance.now() - started) / 1000),
      builtAt: new Date().toISOString(),
    };
    writeFileSync(path.join(work, "build.json"), JSON.stringify(info, null, 2) + "\n");
    if (!existsSync(dir)) renameSync(work, dir); // another run may have finished first: keep its build
    log(`built ${BINARY_NAME} ${INTERCEPTOR_VERSION} in ${info.seconds} s`);
    return interceptorBinary()!;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The generated module's go.mod from upstream's: our module name, upstream's go directive, requirements and
 * replace directives, plus the requirement on http-add-on itself; `tool` directives (upstream's code generators)
 * dropped. A replace by local path cannot be reproduced outside upstream's tree: refused.
 */
export function buildModule(upstreamGoMod: string): string {
  const out: string[] = [];
  let inTool = false;
  for (const line of upstreamGoMod.split("\n")) {
    const t = line.trim();
    if (inTool) {
      if (t === ")") inTool = false;
      continue;
    }
    if (t === "tool (") {
      inTool = true;
      continue;
    }
    if (t.startsWith("tool ")) continue;
    if (t.startsWith("module ")) {
      out.push("module gpu-serverless.local/keda-http-interceptor-build");
      continue;
    }
    if (/=>\s*\.{1,2}\//.test(t)) throw new Error(`${INTERCEPTOR_MODULE}@${INTERCEPTOR_VERSION}: go.mod replaces by a local path (${t}); cannot build outside its tree`);
    out.push(line);
  }
  return `${out.join("\n").trimEnd()}\n\nrequire ${INTERCEPTOR_MODULE} ${INTERCEPTOR_VERSION}\n`;
}

export interface BenchInterceptor {
  readonly pid: number;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly process: Spawned;
  /** What the interceptor asked the stand-in API (discovery, list, watch), counted by request. */
  apiRequests(): Record<string, number>;
  stop(): Promise<void>;
}

export interface InterceptorOptions {
  binary: string;
  /** Host header the route matches. */
  host: string;
  /** The backend on 127.0.0.1: the Service port, the EndpointSlice port and the port the interceptor dials. */
  backendPort: number;
  cpuList: string | undefined;
}

const NAMESPACE = "bench";
const SERVICE = "fast";

/**
 * Starts the stand-in API holding one InterceptorRoute (`host` → Service bench/fast, port `backendPort`), that
 * Service and one ready EndpointSlice, then the interceptor pinned to `cpuList`; resolves once its readiness probe
 * passes (routing table synced) and a request through it reached the backend warm.
 */
export async function startInterceptor(opts: InterceptorOptions): Promise<BenchInterceptor> {
  const unshare = findBinary("unshare");
  const mount = findBinary("mount");
  if (!unshare || !mount) throw new Error("unshare and mount (util-linux) are needed to map the interceptor's upstream name to loopback");
  const api = await FakeListWatchApi.start([INTERCEPTOR_ROUTES, HTTP_SCALED_OBJECTS, ENDPOINT_SLICES, SERVICES, CONFIG_MAPS]);
  let proc: Spawned | undefined;
  const dir = removeOnExit(mkdtempSync(path.join(tmpdir(), "bench-interceptor-")));
  try {
    for (const object of routeObjects(opts.host, opts.backendPort)) api.apply(object);
    const hosts = path.join(dir, "hosts");
    writeFileSync(hosts, `127.0.0.1 localhost\n::1 localhost\n127.0.0.1 ${SERVICE}.${NAMESPACE}\n`);
    const [proxyPort, adminPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      KUBECONFIG: api.writeKubeconfig(dir),
      KEDA_HTTP_PROXY_PORT: String(proxyPort),
      KEDA_HTTP_ADMIN_PORT: String(adminPort),
      OTEL_PROM_EXPORTER_PORT: String(metricsPort),
      KEDA_HTTP_SHUTDOWN_DELAY: "0s", // upstream waits 5 s on SIGTERM for endpoint propagation; nothing to wait for here
    };
    // Root: a private mount namespace; otherwise a user namespace maps us to root inside it (unprivileged userns).
    const ns = process.getuid?.() === 0 ? ["-m"] : ["-r", "-m"];
    const script = 'mount --bind "$1" /etc/hosts && exec "$2" --zap-log-level=info --zap-encoder=console --zap-time-encoding=rfc3339';
    proc = spawnChild(unshare, [...ns, "sh", "-c", script, "sh", hosts, opts.binary], { cpuList: opts.cpuList, env });
    const started = proc;
    const exited = () => started.child.exitCode !== null || started.child.signalCode !== null;
    const failed = (what: string) => (err: Error) => {
      throw new Error(`the interceptor: ${what}: ${err.message}\n${started.stderr().slice(-3000)}`);
    };
    await waitForPort(adminPort, 30_000, exited).catch(failed("admin port"));
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const overdue = deadline(30_000, `KEDA HTTP interceptor readiness (/readyz)\n${started.stderr().slice(-3000)}`);
    for (;;) {
      if (exited()) throw new Error(`the interceptor exited:\n${started.stderr().slice(-3000)}`);
      const ok = await fetch(`${adminUrl}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      overdue();
      await sleep(20);
    }
    await waitForPort(proxyPort, 10_000, exited).catch(failed("proxy port"));
    const stopAll = async () => {
      await started.stop(5000);
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    return {
      pid: started.child.pid!,
      proxyUrl: `http://127.0.0.1:${proxyPort}`,
      adminUrl,
      process: started,
      apiRequests: () => ({ ...api.requests }),
      stop: stopAll,
    };
  } catch (err) {
    await proc?.stop();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The InterceptorRoute, Service and EndpointSlice a cluster would hold for one warm model behind the interceptor. */
export function routeObjects(host: string, backendPort: number) {
  const metadata = (name: string, labels?: Record<string, string>) => ({ name, namespace: NAMESPACE, uid: `uid-${name}`, ...(labels ? { labels } : {}) });
  return [
    {
      apiVersion: "http.keda.sh/v1beta1",
      kind: "InterceptorRoute",
      metadata: metadata(SERVICE),
      spec: {
        target: { service: SERVICE, port: backendPort },
        rules: [{ hosts: [host] }],
        scalingMetric: { concurrency: { targetValue: 100 } },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: metadata(SERVICE),
      spec: { type: "ClusterIP", clusterIP: "10.96.0.10", ports: [{ name: "http", port: backendPort, targetPort: backendPort, protocol: "TCP" }], selector: { app: SERVICE } },
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: metadata(`${SERVICE}-a`, { "kubernetes.io/service-name": SERVICE }),
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true, serving: true, terminating: false } }],
      ports: [{ name: "http", port: backendPort, protocol: "TCP" }],
    },
  ];
}
