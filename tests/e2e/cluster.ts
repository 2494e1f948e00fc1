/**
 * The control plane of the end-to-end suite, started and stopped by it (see tests/e2e/README.md):
 * etcd + kube-apiserver + kube-controller-manager (deployment, replicaset, endpointslice, garbage collector,
 * namespace, serviceaccount controllers), the upstream CRDs, KServe's controller manager with its webhooks wired to
 * it (self-signed CA, `url` client configs), KServe's ClusterServingRuntimes, the KEDA operator (and, with
 * `hpaSyncPeriodSeconds`, KEDA's metrics API server behind the aggregation layer and the HPA controller), Prometheus, then
 * our objects from the plan (server-side apply) and the activator replicas as processes. Pods are run by the
 * {@link NodeStandIn}; Services reach them through the {@link ServiceProxy}.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import type { FakeModelOptions } from "./fakeModel";
import { Kube } from "./kube";
import { NodeStandIn } from "./node";
import { activatorConfig, backendServices, prometheusEndpoints, renderPlan, repoRoot, scalerEndpoints, type PlanObjects } from "./plan";
import { podFiles, SecretValues } from "./podFiles";
import { apiServerArgs, etcdArgs, freePort, makeCertificates, makeClientCertificate, Processes } from "./processes";
import { ServiceProxy } from "./serviceProxy";
import { chartName, findObject, helmTemplate, plannedReleases, stackKubernetesVersion, type PlannedRelease } from "./helm";
import { kserveWebhooks } from "./upstream";
import { METRICS_APISERVER, startKedaMetricsApiServer } from "./kedaMetricsApiServer";

const sharedUpstream = path.resolve(repoRoot, "../shared/upstream");

/** Where tests/e2e/build.sh put each component: name → bin folder. Fails naming the command when one is missing. */
export function builtComponents(): Record<string, string> {
    const r = spawnSync(path.join(__dirname, "build.sh"), ["--print"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`the control plane is not built: ${r.stderr.trim()}\nrun tests/e2e/build.sh first (npm run e2e does)`);
    return Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split("=") as [string, string]));
}

export interface ClusterOptions {
    /** `--set` overrides for the plan of the dev stack. */
    readonly planSettings: Record<string, unknown>;
    /** What a model's pods run, by InferenceService name. */
    readonly models: Record<string, Omit<FakeModelOptions, "pod">>;
    /**
     * 1 → N scaling (scaleOut.e2e.ts): runs KEDA's metrics API server (`keda-adapter`) behind the API server's
     * aggregation layer as `v1beta1.external.metrics.k8s.io`, and kube-controller-manager's HPA controller with this
     * `--horizontal-pod-autoscaler-sync-period` (seconds; upstream default 15). Off: neither runs (0 ↔ 1 only).
     */
    readonly hpaSyncPeriodSeconds?: number;
    /**
     * Called once the plan is rendered, before anything is applied: may start what the plan's objects point at and
     * change objects of `plan.all` in place (a test that does says which and why). Default: none.
     */
    readonly preparePlan?: (plan: PlanObjects) => Promise<void>;
    /** More environment for the KEDA operator process (e.g. static test credentials for its AWS SDK). Default: none. */
    readonly kedaEnv?: Record<string, string>;
    /**
     * Plan objects start() leaves out, for the test to apply later with {@link Cluster.applyObjects} (a model that is
     * new to a running cluster: karpenter.e2e.ts). Default: none.
     */
    readonly deferred?: (o: any) => boolean;
}


export interface ActivatorReplica {
    readonly name: string;
    readonly ip: string;
    readonly proxyPort: number;
    readonly adminPort: number;
    readonly configFile: string;
    /** The container's environment as the kubelet would set it (POD_NAME etc.). */
    readonly env?: Record<string, string>;
}

export class Cluster {
    readonly runDir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-serverless-e2e-"));
    readonly processes: Processes;
    kube!: Kube;
    node!: NodeStandIn;
    plan!: PlanObjects;
    activators: ActivatorReplica[] = [];
    /** Seconds each phase of start() took, for the report. */
    readonly timings: Record<string, number> = {};
    private bins!: Record<string, string>;
    private kubeconfig!: string;
    private certDir!: string;
    private proxy!: ServiceProxy;
    private readonly hostsFile: string;
    private readonly vips = new Map<string, string>();
    /** Whether /etc/hosts is bound to this run's hosts file (undone by stop(), so a next Cluster in the run can bind its own). */
    private hostsMounted = false;

    constructor(private readonly options: ClusterOptions) {
        this.hostsFile = path.join(this.runDir, "hosts");
        this.processes = new Processes(this.runDir);
    }

    /**
     * Addresses inside the suite's own network namespace (tests/e2e/run.sh makes 10.0.0.0/8 local there; the API
     * server refuses loopback addresses in EndpointSlices): pods 10.244.0.n, Service addresses 10.255.2.n, activator
     * replicas 10.255.3.n.
     */
    private ip(block: number, n: number): string {
        return `10.255.${block}.${n}`;
    }

    private async phase<T>(name: string, run: () => Promise<T>): Promise<T> {
        const start = Date.now();
        const result = await run();
        this.timings[name] = (Date.now() - start) / 1000;
        return result;
    }

    async start(): Promise<void> {
        this.bins = builtComponents();
        this.plan = await this.phase("plan", async () => renderPlan("dev", path.join(this.runDir, "plan"), this.options.planSettings));
        await this.options.preparePlan?.(this.plan);
        this.writeHosts();
        this.certDir = path.join(this.runDir, "pki");
        // The serving certificate also names KEDA's metrics API server Service, which the aggregator verifies.
        makeCertificates(this.certDir, [`${METRICS_APISERVER.name}.${this.helmRelease("keda").namespace}.svc`]);
        makeClientCertificate(this.certDir, "front-proxy-client");
        await this.phase("apiserver", () => this.startApiServer());
        await this.phase("crds", () => this.applyCrds());
        await this.phase("platform namespaces", () => this.applyObjects((o) => o.kind === "Namespace"));
        await this.phase("kserve", () => this.startKServe());
        await this.phase("controller-manager", () => this.startControllerManager());
        await this.phase("node", () => this.startNode());
        const metricsService = await this.phase("keda", () => this.startKeda());
        if (this.options.hpaSyncPeriodSeconds) await this.phase("keda metrics apiserver", () =>
            startKedaMetricsApiServer({ kube: this.kube, processes: this.processes, bin: this.bins["keda-adapter"], certDir: this.certDir, kubeconfig: this.kubeconfig, namespace: this.helmRelease("keda").namespace, metricsService }),
        );
        await this.phase("prometheus", () => this.startPrometheus());
        const now = (o: any) => !this.options.deferred?.(o);
        await this.phase("our objects", () => this.applyObjects((o) => o.kind !== "Secret" && o.kind !== "ScaledObject" && now(o)));
        await this.phase("activators", () => this.startActivators());
        // After the activators listen: KEDA asks each external-push scaler for its metric spec when it builds the HPA.
        await this.phase("scaled objects", () => this.applyObjects((o) => o.kind === "ScaledObject" && now(o)));
    }

    async stop(): Promise<void> {
        await this.node?.stop();
        await this.proxy?.stop();
        await this.processes.stopAll();
        this.kube?.close();
        if (this.hostsMounted) execFileSync("umount", ["/etc/hosts"]);
        this.hostsMounted = false;
        if (!process.env.E2E_KEEP) fs.rmSync(this.runDir, { recursive: true, force: true });
    }

    /**
     * The hosts file the activator and KEDA processes see: each scalerAddress host of the plan → one activator
     * replica; each model backend host and Prometheus host → a Service address of the kube-proxy stand-in.
     */
    private writeHosts(): void {
        const lines = [fs.readFileSync("/etc/hosts", "utf8").trimEnd(), "# gpu-serverless e2e: cluster DNS names of the plan"];
        const { config } = activatorConfig(this.plan);
        const statefulSet = this.plan.all.find((o) => o.kind === "StatefulSet" && o.metadata.namespace === activatorConfig(this.plan).configMap.metadata.namespace);
        const replicas: number = statefulSet?.spec?.replicas ?? 1;
        for (let i = 0; i < replicas; i++) {
            const name = `${statefulSet?.metadata?.name ?? "activator"}-${i}`;
            this.activators.push({ name, ip: this.ip(3, i + 1), proxyPort: config.listeners?.proxy?.port ?? 8080, adminPort: config.listeners?.admin?.port ?? 9091, configFile: "" });
        }
        let n = 1;
        for (const e of this.scalerUpstreams()) {
            // A pod's own name under the StatefulSet's headless Service (<statefulset>-<i>.<service>.<ns>.svc...) reaches
            // that replica; a Service's name reaches its ready endpoints through the kube-proxy stand-in (the replicas
            // are registered as Pods, so the EndpointSlice controller lists them).
            const pod = /^(.+)-(\d+)\.[^.]+\.[^.]+\.svc(\.cluster\.local)?$/.exec(e.host);
            const replica = pod && pod[1] === statefulSet?.metadata?.name ? this.activators[Number(pod[2])] : undefined;
            const service = /^([^.]+)\.([^.]+)\.svc(\.cluster\.local)?$/.exec(e.host);
            if (replica) {
                lines.push(`${replica.ip} ${e.host}`);
            } else if (service) {
                this.vips.set(`${service[2]}/${service[1]}`, this.ip(2, n));
                lines.push(`${this.ip(2, n++)} ${e.host}`);
            } else {
                throw new Error(`scalerAddress host ${e.host} is neither a pod of the activator StatefulSet nor a Service name`);
            }
        }
        for (const { key, host } of backendServices(config)) {
            this.vips.set(key, this.ip(2, n));
            lines.push(`${this.ip(2, n++)} ${host}`);
        }
        for (const p of prometheusEndpoints(this.plan)) lines.push(`${this.ip(2, 200)} ${p.host}`);
        fs.writeFileSync(this.hostsFile, lines.join("\n") + "\n");
        // Only inside the private mount namespace tests/e2e/run.sh creates: the machine's /etc/hosts stays as it is.
        if (process.env.E2E_NAMESPACED !== "1") throw new Error("run the suite through tests/e2e/run.sh (npm run e2e): it needs its own network and mount namespaces");
        execFileSync("mount", ["--bind", this.hostsFile, "/etc/hosts"]);
        this.hostsMounted = true;
    }

    /** The address a Prometheus trigger's serverAddress resolves to. */
    get prometheusAddress(): string {
        return this.ip(2, 200);
    }

    private writeKubeconfig(file: string, token: string, server: string): void {
        fs.writeFileSync(
            file,
            YAML.stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "e2e", cluster: { server, "certificate-authority": path.join(this.certDir, "ca.crt") } }],
                users: [{ name: "e2e", user: { token } }],
                contexts: [{ name: "e2e", context: { cluster: "e2e", user: "e2e" } }],
                "current-context": "e2e",
            }),
        );
    }

    private async startApiServer(): Promise<void> {
        const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
        const etcd = this.bins.etcd;
        this.processes.start("etcd", path.join(etcd, "etcd"), etcdArgs(path.join(this.runDir, "etcd"), etcdPort, peerPort));
        const pki = (f: string) => path.join(this.certDir, f);
        const { token, args } = apiServerArgs({ runDir: this.runDir, etcdPort, apiPort, pki });
        this.processes.start("kube-apiserver", path.join(this.bins.kubernetes, "kube-apiserver"), [
            ...args,
            // The aggregation layer (for KEDA's metrics API server): kube-apiserver authenticates to an aggregated API
            // server with this client certificate and passes the user in these headers (Kubernetes docs, "Configure the
            // Aggregation Layer").
            `--requestheader-client-ca-file=${pki("ca.crt")}`,
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            `--proxy-client-cert-file=${pki("front-proxy-client.crt")}`,
            `--proxy-client-key-file=${pki("front-proxy-client.key")}`,
        ]);
        const server = `https://127.0.0.1:${apiPort}`;
        this.kube = new Kube({ server, ca: fs.readFileSync(pki("ca.crt"), "utf8"), token });
        this.kubeconfig = path.join(this.runDir, "admin.kubeconfig");
        this.writeKubeconfig(this.kubeconfig, token, server);
        await Kube.until("kube-apiserver /readyz", 120_000, async () => {
            if (this.processes.get("kube-apiserver")!.hasExited()) throw new Error(`kube-apiserver exited:\n${this.processes.tail("kube-apiserver")}`);
            return (await this.kube.get("/readyz")) === "ok";
        }, 250);
    }

    private async applyCrds(): Promise<void> {
        const files = [
            ...fs.readdirSync(path.join(sharedUpstream, "crds")).filter((f) => /^(keda|kserve|prometheus-operator|karpenter)-/.test(f)).map((f) => path.join(sharedUpstream, "crds", f)),
            ...["kserve", "keda"].flatMap((c) => {
                const share = path.join(this.bins[c], "..", "share");
                return fs.readdirSync(share).filter((f) => /\.yaml$/.test(f) && f !== "resources.yaml").map((f) => path.join(share, f));
            }),
        ];
        const crds = files.flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(f, "utf8")).map((d) => d.toJS())).filter((o) => o?.kind === "CustomResourceDefinition");
        for (const crd of crds) await this.kube.apply(crd, "e2e");
        await Kube.until("every CRD Established", 60_000, async () => {
            for (const crd of crds) {
                const live = await this.kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
                if (!live.status?.conditions?.some((c: any) => c.type === "Established" && c.status === "True")) return false;
            }
            return true;
        });
    }

    /** Server-side applies the plan's objects that `select` picks, in plan order (Namespaces first). */
    async applyObjects(select: (o: any) => boolean): Promise<void> {
        const objects = this.plan.all.filter(select);
        const ordered = [...objects.filter((o) => o.kind === "Namespace"), ...objects.filter((o) => o.kind !== "Namespace")];
        for (const o of ordered) await this.kube.apply(o);
    }

    private async startKServe(): Promise<void> {
        const kserveRelease = this.helmRelease("kserve-resources");
        // KServe's controller reads inferenceservice-config in its own namespace: the one the chart renders from our values.
        const rendered = this.renderRelease(kserveRelease);
        await this.kube.apply(findObject(rendered, "ConfigMap", "inferenceservice-config", kserveRelease.namespace), "helm");
        const port = await freePort();
        // controller-runtime's webhook server reads tls.crt/tls.key from $TMPDIR/k8s-webhook-server/serving-certs.
        const tmp = path.join(this.runDir, "kserve-tmp");
        const certs = path.join(tmp, "k8s-webhook-server", "serving-certs");
        fs.mkdirSync(certs, { recursive: true });
        for (const f of ["tls.crt", "tls.key"]) fs.copyFileSync(path.join(this.certDir, f), path.join(certs, f));
        const kserve = this.processes.start("kserve-controller-manager", path.join(this.bins.kserve, "manager"), [
            "--metrics-addr=0",
            "--health-probe-addr=0",
            `--webhook-port=${port}`,
            "--leader-elect=false",
        ], { env: { KUBECONFIG: this.kubeconfig, POD_NAMESPACE: kserveRelease.namespace, TMPDIR: tmp } });
        await Kube.until("KServe's webhook server", 120_000, async () => {
            if (kserve.hasExited()) throw new Error(`kserve manager exited:\n${this.processes.tail("kserve-controller-manager")}`);
            return await new Promise<boolean>((resolve) => {
                const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
                s.on("error", () => resolve(false));
            });
        }, 250);
        const resources = YAML.parseAllDocuments(fs.readFileSync(path.join(this.bins.kserve, "..", "share", "resources.yaml"), "utf8")).map((d) => d.toJS());
        for (const hook of kserveWebhooks(resources, `https://127.0.0.1:${port}`, fs.readFileSync(path.join(this.certDir, "ca.crt")))) await this.kube.apply(hook, "e2e");
        const runtimes = this.renderRelease(this.helmRelease("kserve-runtime-configs")).filter((o) => o.kind === "ClusterServingRuntime");
        if (runtimes.length === 0) throw new Error("kserve-runtime-configs rendered no ClusterServingRuntime with the plan's values");
        // The validating webhook for ClusterServingRuntimes answers once the manager's cache has synced: retry briefly.
        for (const rt of runtimes) await Kube.until(`ClusterServingRuntime ${rt.metadata.name} applied`, 60_000, async () => !!(await this.kube.apply(rt, "helm")), 500);
    }

    /** The plan's Helm release of `chart` (by chart name, with or without an OCI path): release, namespace, values. */
    private helmRelease(chart: string): PlannedRelease {
        const releases = plannedReleases(path.join(this.runDir, "plan"));
        const found = releases.find((r) => chartName(r) === chart);
        if (!found) throw new Error(`the plan installs no ${chart} chart (releases: ${releases.map((r) => r.chart).join(", ")})`);
        return found;
    }

    /** The objects the release's chart package renders with the plan's values (tests/e2e/helm.ts). */
    private renderRelease(release: PlannedRelease): any[] {
        return helmTemplate(release, { helm: path.join(this.bins.helm, "helm"), kubeVersion: stackKubernetesVersion("dev", this.options.planSettings) });
    }

    private async startControllerManager(): Promise<void> {
        const hpa = this.options.hpaSyncPeriodSeconds;
        this.processes.start("kube-controller-manager", path.join(this.bins.kubernetes, "kube-controller-manager"), [
            `--kubeconfig=${this.kubeconfig}`,
            "--leader-elect=false",
            "--secure-port=0",
            `--controllers=deployment,replicaset,endpointslice,garbagecollector,namespace,serviceaccount${hpa ? ",horizontalpodautoscaling" : ""}`,
            ...(hpa ? [`--horizontal-pod-autoscaler-sync-period=${hpa}s`] : []),
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            "--concurrent-service-endpoint-syncs=10",
            // EndpointSlice updates are batched over this period (default 0); keep it 0 so readiness is not delayed.
            "--endpointslice-updates-batch-period=0s",
        ]);
    }

    private async startNode(): Promise<void> {
        const { config } = activatorConfig(this.plan);
        const namespaces = [...new Set<string>(config.models.map((m: any) => m.namespace))];
        this.node = new NodeStandIn(this.kube, {
            nodeName: "e2e-node",
            ipPrefix: "10.244.0.",
            namespaces,
            modelFor: (pod) => this.options.models[pod.metadata.labels?.["serving.kserve.io/inferenceservice"]],
        });
        await this.node.start();
        this.proxy = new ServiceProxy(this.kube, this.vips);
        this.proxy.start();
    }

    /**
     * The KEDA relay container the plan adds to the KEDA operator's pod (`operator.extraContainers`), if any: its args
     * as the container runs them (`activator/dist/kedaRelay/main.js --listen PORT --upstream HOST:PORT`).
     */
    private kedaRelayArgs(): string[] | undefined {
        const containers: any[] = (this.helmRelease("keda").values as any)?.operator?.extraContainers ?? [];
        return containers.find((c) => c.name === "keda-relay")?.args;
    }

    /**
     * Where the ScaledObjects' scaler addresses lead: an address the KEDA relay listens on (127.0.0.1:PORT) stands for
     * the relay's `--upstream`; any other address for itself.
     */
    scalerUpstreams(): { host: string; port: number }[] {
        const args = this.kedaRelayArgs();
        const arg = (name: string) => args?.[args.indexOf(name) + 1];
        return scalerEndpoints(this.plan).map((e) => {
            if (!args || e.host !== "127.0.0.1" || String(e.port) !== arg("--listen")) return e;
            const [host, port] = arg("--upstream")!.split(":");
            return { host: host!, port: Number(port) };
        });
    }

    /** The KEDA relay as the operator pod's container runs it: a process beside KEDA's, on its loopback address. */
    private async startKedaRelay(): Promise<void> {
        const args = this.kedaRelayArgs();
        if (!args) return;
        const relay = this.processes.start("keda-relay", process.execPath, [path.join(repoRoot, args[0]!), ...args.slice(1)]);
        await Kube.until("keda-relay listening", 30_000, async () => {
            if (relay.hasExited()) throw new Error(`keda-relay exited:\n${this.processes.tail("keda-relay")}`);
            return fs.readFileSync(relay.log, "utf8").includes('"KEDA relay listening"');
        }, 100);
    }

    /** The KEDA operator; returns the address of its gRPC metrics service (for the metrics API server). */
    private async startKeda(): Promise<string> {
        await this.startKedaRelay();
        const kedaRelease = this.helmRelease("keda");
        const metricsService = `127.0.0.1:${await freePort()}`;
        const keda = this.processes.start("keda-operator", path.join(this.bins.keda, "keda"), [
            `--metrics-bind-address=127.0.0.1:${await freePort()}`,
            `--health-probe-bind-address=127.0.0.1:${await freePort()}`,
            `--metrics-service-bind-address=${metricsService}`,
            `--cert-dir=${this.certDir}`,
            "--leader-elect=false",
            "--zap-log-level=info",
            "--zap-encoder=console",
        ], { env: { ...this.options.kedaEnv, KUBECONFIG: this.kubeconfig, WATCH_NAMESPACE: "", POD_NAMESPACE: kedaRelease.namespace, KEDA_CLUSTER_OBJECT_NAMESPACE: kedaRelease.namespace } });
        await new Promise((r) => setTimeout(r, 500));
        if (keda.hasExited()) throw new Error(`keda operator exited:\n${this.processes.tail("keda-operator")}`);
        return metricsService;
    }

    /** Debian's Prometheus at the address the ScaledObjects' prometheus triggers name, scraping nothing (empty results). */
    private async startPrometheus(): Promise<void> {
        const endpoints = prometheusEndpoints(this.plan);
        if (endpoints.length === 0) return;
        const configFile = path.join(this.runDir, "prometheus.yml");
        fs.writeFileSync(configFile, YAML.stringify({ global: { scrape_interval: "5s" }, scrape_configs: [] }));
        this.processes.start("prometheus", "prometheus", [
            `--config.file=${configFile}`,
            `--storage.tsdb.path=${path.join(this.runDir, "prometheus")}`,
            `--web.listen-address=${this.prometheusAddress}:${endpoints[0].port}`,
        ]);
        await Kube.until("Prometheus ready", 60_000, async () => (await fetch(`http://${this.prometheusAddress}:${endpoints[0].port}/-/ready`)).ok, 250);
    }

    /**
     * The activator replicas: the plan's config file with each replica's listeners on its own loopback address (the one
     * its scalerAddress name resolves to), readiness mode as planned (kubernetes), authenticated to the API server
     * with a token of the activator's own ServiceAccount, so our RBAC is what it is allowed.
     */
    private async startActivators(): Promise<void> {
        const { configMap, config } = activatorConfig(this.plan);
        const sa = this.plan.all.find((o) => o.kind === "StatefulSet")?.spec?.template?.spec?.serviceAccountName ?? "activator";
        const tokenRequest = await this.kube.request("POST", `/api/v1/namespaces/${configMap.metadata.namespace}/serviceaccounts/${sa}/token`, {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 7200 },
        });
        const kubeconfig = path.join(this.runDir, "activator.kubeconfig");
        this.writeKubeconfig(kubeconfig, tokenRequest.status.token, this.kube.access.server);
        const scalerPort = this.scalerUpstreams()[0]?.port ?? config.listeners?.scaler?.port ?? 9090;
        const sts = this.plan.all.find((o) => o.kind === "StatefulSet" && o.metadata.namespace === configMap.metadata.namespace);
        const secrets = new SecretValues(this.kube, this.plan);
        for (const [i, a] of this.activators.entries()) {
            const dir = path.join(this.runDir, a.name);
            fs.mkdirSync(dir, { recursive: true });
            const files = sts
                ? await podFiles({ kube: this.kube, plan: this.plan, secrets, namespace: sts.metadata.namespace, spec: sts.spec.template.spec, name: a.name, ip: a.ip, dir })
                : { env: {}, rewrite: <T>(c: T) => c };
            const file = path.join(dir, "config.yaml");
            const replicaConfig = {
                ...files.rewrite(config),
                listeners: {
                    proxy: { host: a.ip, port: a.proxyPort },
                    scaler: { host: a.ip, port: scalerPort },
                    admin: { host: a.ip, port: a.adminPort },
                },
            };
            fs.writeFileSync(file, YAML.stringify(replicaConfig));
            this.activators[i] = { ...a, configFile: file, env: files.env };
        }
        this.activatorKubeconfig = kubeconfig;
        for (const a of this.activators) await this.startActivator(a.name);
    }

    private activatorKubeconfig = "";

    /** Starts (or restarts) one activator replica and waits for its "activator listening" line. */
    async startActivator(name: string): Promise<void> {
        const a = this.activators.find((x) => x.name === name)!;
        const log = path.join(this.runDir, "logs", `${name}.log`);
        const offset = fs.existsSync(log) ? fs.statSync(log).size : 0; // a restart appends to the same log
        const p = this.processes.start(name, process.execPath, [path.join(repoRoot, "activator", "dist", "main.js"), "--config", a.configFile], {
            env: { ...a.env, KUBECONFIG: this.activatorKubeconfig },
        });
        await Kube.until(`${name} listening`, 30_000, async () => {
            if (p.hasExited()) throw new Error(`${name} exited:\n${this.processes.tail(name)}`);
            return fs.readFileSync(p.log, "utf8").slice(offset).includes('"activator listening"');
        }, 100);
        await this.activatorPod(a, true);
    }

    /** Stops one activator replica; its Pod turns NotReady, as its readiness probe would make it. */
    async stopActivator(name: string): Promise<void> {
        await this.activatorPod(this.activators.find((x) => x.name === name)!, false);
        await this.processes.stop(name);
    }

    /**
     * The Pod an activator replica process stands for: created once from the plan's StatefulSet template (as the
     * StatefulSet controller would: name <statefulset>-<i>, hostname and subdomain; admitted by the namespace's Pod
     * Security level), bound to the stand-in node, with the process's address as podIP and Ready as given. The
     * EndpointSlice controller then lists the replicas behind the activator's Services.
     */
    private async activatorPod(a: ActivatorReplica, ready: boolean): Promise<void> {
        const sts = this.plan.all.find((o) => o.kind === "StatefulSet" && a.name.startsWith(`${o.metadata.name}-`));
        if (!sts) return;
        const { namespace } = sts.metadata;
        const path_ = `/api/v1/namespaces/${namespace}/pods/${a.name}`;
        if (!(await this.kube.find(path_))) {
            await this.kube.request("POST", `/api/v1/namespaces/${namespace}/pods`, {
                apiVersion: "v1",
                kind: "Pod",
                metadata: { name: a.name, namespace, labels: { ...sts.spec.template.metadata.labels, "statefulset.kubernetes.io/pod-name": a.name } },
                spec: { ...sts.spec.template.spec, nodeName: "e2e-node", hostname: a.name, subdomain: sts.spec.serviceName },
            });
        }
        const now = new Date().toISOString();
        const cond = (type: string, status: boolean) => ({ type, status: status ? "True" : "False", lastTransitionTime: now });
        await this.kube.request("PATCH", `${path_}/status`, {
            status: {
                phase: "Running",
                podIP: a.ip,
                podIPs: [{ ip: a.ip }],
                hostIP: "127.0.0.1",
                conditions: [cond("PodScheduled", true), cond("Initialized", true), cond("ContainersReady", ready), cond("Ready", ready)],
            },
        }, "application/merge-patch+json");
    }

    /**
     * Waits until a model (its ScaledObject from the plan) is at zero: the ScaledObject's target Deployment at 0
     * replicas and no pod of its InferenceService (label `serving.kserve.io/inferenceservice`) left. Polls every 200 ms;
     * throws after `timeoutMs`.
     */
    async atZero(so: any, timeoutMs: number): Promise<void> {
        const { namespace, name } = so.metadata;
        await Kube.until(`${name} at 0 replicas with no pod left`, timeoutMs, async () => {
            const d = await this.kube.get(`/apis/apps/v1/namespaces/${namespace}/deployments/${so.spec.scaleTargetRef.name}`);
            const pods = await this.kube.get(`/api/v1/namespaces/${namespace}/pods?labelSelector=serving.kserve.io/inferenceservice=${name}`);
            return d.spec.replicas === 0 && pods.items.length === 0;
        }, 200);
    }

    /** The API server's kubeconfig, for debugging a kept run (E2E_KEEP=1). */
    get adminKubeconfig(): string {
        return this.kubeconfig;
    }
}

