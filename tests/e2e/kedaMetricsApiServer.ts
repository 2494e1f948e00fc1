/**
 * KEDA's metrics API server in the e2e control plane (tests/e2e/README.md, "Scale-out"), for kube-controller-manager's
 * HPA controller: the `keda-adapter` process, its Service and Endpoints, and the APIService registering it with
 * kube-apiserver's aggregation layer.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Kube } from "./kube";
import { freePort, type Processes } from "./processes";

/** KEDA's metrics API server Service (the keda chart's name) and the address it is given (no kube-proxy: the adapter listens on it). */
export const METRICS_APISERVER = { name: "keda-operator-metrics-apiserver", clusterIP: "10.96.0.20", port: 443 };

export interface MetricsApiServerOptions {
    readonly kube: Kube;
    readonly processes: Processes;
    /** tests/e2e/build.sh's bin folder of keda-adapter. */
    readonly bin: string;
    /** ca.crt, tls.crt (serving, also naming the Service), tls.key: the same as the operator's `--cert-dir` (gRPC mTLS). */
    readonly certDir: string;
    /** Admin kubeconfig (lister, authentication and authorization delegation). */
    readonly kubeconfig: string;
    /** KEDA's namespace (the plan's keda release). */
    readonly namespace: string;
    /** host:port of the operator's gRPC metrics service (`--metrics-service-bind-address`). */
    readonly metricsService: string;
}

/**
 * Starts KEDA's metrics API server (`cmd/adapter`), the keda chart's Service and the APIService
 * `v1beta1.external.metrics.k8s.io` pointing at it; waits until the APIService is Available. The adapter reads each
 * metric from the operator's gRPC metrics service (`--metrics-service-address`, mTLS with the certificates of
 * `--cert-dir`: kedacore/keda v2.20.2 pkg/metricsservice). There is no kube-proxy: the Service gets a fixed
 * clusterIP, local in the suite's network namespace, and the adapter listens on it.
 */
export async function startKedaMetricsApiServer(o: MetricsApiServerOptions): Promise<void> {
    const { kube, processes, certDir, kubeconfig, metricsService, namespace: ns } = o;
    if (!(await kube.find(`/api/v1/namespaces/${ns}`))) await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, "e2e");
    const pki = (f: string) => path.join(certDir, f);
    const adapter = processes.start("keda-adapter", path.join(o.bin, "keda-adapter"), [
        `--bind-address=${METRICS_APISERVER.clusterIP}`,
        `--secure-port=${METRICS_APISERVER.port}`,
        `--cert-dir=${certDir}`,
        `--tls-cert-file=${pki("tls.crt")}`,
        `--tls-private-key-file=${pki("tls.key")}`,
        `--lister-kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        `--metrics-service-address=${metricsService}`,
        `--port=${await freePort()}`,
        "--zap-encoder=console",
    ], { env: { KUBECONFIG: kubeconfig, WATCH_NAMESPACE: "", POD_NAMESPACE: ns, KEDA_CLUSTER_OBJECT_NAMESPACE: ns } });
    await kube.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: METRICS_APISERVER.name, namespace: ns },
        spec: { clusterIP: METRICS_APISERVER.clusterIP, ports: [{ name: "https", port: METRICS_APISERVER.port, targetPort: METRICS_APISERVER.port }] },
    }, "e2e");
    // kube-aggregator's availability check wants a ready address in the Service's v1 Endpoints (written here, as for
    // any Service without a selector: no endpoints controller runs, and the adapter is a process, not a pod).
    await kube.apply({
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: METRICS_APISERVER.name, namespace: ns },
        subsets: [{ addresses: [{ ip: METRICS_APISERVER.clusterIP }], ports: [{ name: "https", port: METRICS_APISERVER.port }] }],
    }, "e2e");
    await kube.apply({
        apiVersion: "apiregistration.k8s.io/v1",
        kind: "APIService",
        metadata: { name: "v1beta1.external.metrics.k8s.io" },
        spec: {
            service: { name: METRICS_APISERVER.name, namespace: ns, port: METRICS_APISERVER.port },
            group: "external.metrics.k8s.io",
            version: "v1beta1",
            caBundle: fs.readFileSync(pki("ca.crt")).toString("base64"),
            groupPriorityMinimum: 100,
            versionPriority: 100,
        },
    }, "e2e");
    let available: any;
    await Kube.until("APIService v1beta1.external.metrics.k8s.io Available", 60_000, async () => {
        if (adapter.hasExited()) throw new Error(`keda-adapter exited:\n${processes.tail("keda-adapter")}`);
        const live = await kube.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io");
        available = live.status?.conditions?.find((c: any) => c.type === "Available");
        return available?.status === "True";
    }, 250).catch((e) => {
        throw new Error(`${e.message}: ${available?.reason}: ${available?.message}`);
    });
}
