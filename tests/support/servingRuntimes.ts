/**
 * KServe's runtime selection, replayed over the ClusterServingRuntimes the `kserve-runtime-configs` chart installs
 * (kserve/kserve v0.20.0 charts/kserve-runtime-configs/files/runtimes/resources.yaml, carried in
 * `tests/upstream-facts/manifests/kserve-cluster-serving-runtimes.json`, see ./upstreamFacts.ts), and what KServe then
 * builds from the runtime and the InferenceService: the predictor container (runtime container + ours) and the
 * predictor Service.
 *
 * API: `clusterServingRuntimes()` (the whole objects: formats, protocol versions, containers with image, args, ports;
 * annotations), `effectiveProtocol(model)`, `supportingRuntimes(model)`,
 * `selectedRuntime(model)`, `predictorContainerPorts(model, runtime)`, `predictorServicePorts(component, ports)`.
 *
 * Written from kserve/kserve v0.20.0 (our own code, following the upstream rules):
 * - pkg/apis/serving/v1beta1/inference_service_defaults.go `setPredictorModelDefaults`: `protocolVersion` defaults to
 *   `v2` for the model formats `triton` and `vLLM`;
 * - pkg/apis/serving/v1beta1/predictor_model.go `GetProtocol` (default `v1`), `GetSupportingRuntimes` (not disabled,
 *   not multi-model, no `workerSpec` unless multi-node, `RuntimeSupportsModel`, `IsProtocolVersionSupported`; then
 *   sorted by the format's `priority`, highest first), `getServingRuntimeSupportedModelFormatLabelSet` (only
 *   `autoSelect: true` formats count unless `runtime` is named; `name` and `name:version` labels);
 * - pkg/apis/serving/v1alpha1/servingruntime_types.go `IsProtocolVersionSupported` (a runtime listing no protocol
 *   accepts any);
 * - pkg/controller/v1beta1/inferenceservice/reconcilers/service/service_reconciler.go `createDefaultSvc`: the first
 *   declared container port becomes Service port 80 (its name, numeric targetPort), later ones keep their number;
 *   no declared port gives one port named after the component, targetPort 8080.
 */
import { manifestObjects } from "./upstreamFacts";

export interface SupportedModelFormat {
    name: string;
    version?: string;
    autoSelect?: boolean;
    priority?: number;
}

export interface ContainerPort {
    name?: string;
    containerPort: number;
    protocol?: string;
}

export interface RuntimeContainer {
    name: string;
    ports?: ContainerPort[];
    [key: string]: unknown;
}

export interface ClusterServingRuntime {
    metadata: { name: string; annotations?: Record<string, string> };
    spec: {
        supportedModelFormats?: SupportedModelFormat[];
        protocolVersions?: string[];
        disabled?: boolean;
        multiModel?: boolean;
        workerSpec?: unknown;
        annotations?: Record<string, string>;
        containers: RuntimeContainer[];
    };
}

/** The parts of `spec.predictor.model` that runtime selection reads. */
export interface PredictorModel {
    modelFormat: { name: string; version?: string };
    protocolVersion?: string;
    runtime?: string;
    ports?: ContainerPort[];
}

let cached: ClusterServingRuntime[] | undefined;

/** The ClusterServingRuntimes of the pinned `kserve-runtime-configs` chart, in file order. */
export function clusterServingRuntimes(): ClusterServingRuntime[] {
    cached ??= manifestObjects("kserve-cluster-serving-runtimes").filter((d) => d?.kind === "ClusterServingRuntime");
    return cached;
}

/** The protocol KServe gives the model after defaulting: set, else `v2` for `triton` and `vLLM`, else `v1`. */
export function effectiveProtocol(model: PredictorModel): string {
    if (model.protocolVersion) return model.protocolVersion;
    return model.modelFormat.name === "triton" || model.modelFormat.name === "vLLM" ? "v2" : "v1";
}

function formatLabels(model: PredictorModel, formats: readonly SupportedModelFormat[]): Set<string> {
    const labels = new Set<string>();
    for (const f of formats) {
        if (model.runtime !== undefined || f.autoSelect === true) {
            labels.add(`mt:${f.name}`);
            if (f.version !== undefined) labels.add(`mt:${f.name}:${f.version}`);
        }
    }
    return labels;
}

function supportsModel(model: PredictorModel, runtime: ClusterServingRuntime): boolean {
    const wanted = model.modelFormat.version !== undefined ? `mt:${model.modelFormat.name}:${model.modelFormat.version}` : `mt:${model.modelFormat.name}`;
    return formatLabels(model, runtime.spec.supportedModelFormats ?? []).has(wanted);
}

function supportsProtocol(protocol: string, runtime: ClusterServingRuntime): boolean {
    const listed = runtime.spec.protocolVersions ?? [];
    return protocol === "" || listed.length === 0 || listed.includes(protocol);
}

function priorityOf(runtime: ClusterServingRuntime, format: string): number | undefined {
    return runtime.spec.supportedModelFormats?.find((f) => f.name === format)?.priority;
}

/**
 * The cluster runtimes that support `model` as KServe v0.20 lists them (single-node, not multi-model), best first;
 * KServe takes the first. (Namespaced ServingRuntimes would come before them; we install none.)
 */
export function supportingRuntimes(model: PredictorModel, runtimes = clusterServingRuntimes()): ClusterServingRuntime[] {
    const protocol = effectiveProtocol(model);
    const found = runtimes.filter(
        (r) =>
            r.spec.disabled !== true &&
            r.spec.multiModel !== true &&
            r.spec.workerSpec === undefined &&
            supportsModel(model, r) &&
            supportsProtocol(protocol, r),
    );
    // Go's sort.Slice is not stable, but KServe's comparator only orders by priority; ties keep no guaranteed order,
    // so a tie between two runtimes at the top is reported by `selectedRuntime`.
    return found
        .map((r, i) => ({ r, i, p: priorityOf(r, model.modelFormat.name) }))
        .sort((a, b) => {
            if (a.p === undefined && b.p === undefined) return a.i - b.i;
            if (a.p === undefined) return 1;
            if (b.p === undefined) return -1;
            return b.p - a.p || a.i - b.i;
        })
        .map((x) => x.r);
}

/** The runtime KServe selects for `model`; throws as KServe fails ("no runtime found"), or on a tie at the top. */
export function selectedRuntime(model: PredictorModel, runtimes = clusterServingRuntimes()): ClusterServingRuntime {
    if (model.runtime !== undefined) {
        const named = runtimes.find((r) => r.metadata.name === model.runtime);
        if (!named) throw new Error(`runtime ${model.runtime} is not installed`);
        return named;
    }
    const [first, second] = supportingRuntimes(model, runtimes);
    if (!first) {
        throw new Error(`no runtime found to support predictor with model type ${model.modelFormat.name} (protocol ${effectiveProtocol(model)})`);
    }
    if (second && priorityOf(first, model.modelFormat.name) === priorityOf(second, model.modelFormat.name)) {
        throw new Error(`runtimes ${first.metadata.name} and ${second.metadata.name} tie for ${model.modelFormat.name}: KServe's pick is undefined`);
    }
    return first;
}

/** Ports of the predictor pod's model container: ours, plus the runtime container's that we did not redeclare. */
export function predictorContainerPorts(model: PredictorModel, runtime: ClusterServingRuntime): ContainerPort[] {
    const runtimeContainer = runtime.spec.containers.find((c) => c.name === "kserve-container") ?? runtime.spec.containers[0];
    const ours = model.ports ?? [];
    const theirs = (runtimeContainer.ports ?? []).filter((p) => !ours.some((o) => o.containerPort === p.containerPort));
    return [...ours, ...theirs];
}

export interface ServicePort {
    name: string;
    port: number;
    targetPort: number | string;
}

/** The ports of the predictor Service KServe creates for a pod whose model container declares `containerPorts`. */
export function predictorServicePorts(componentName: string, containerPorts: readonly ContainerPort[]): ServicePort[] {
    if (containerPorts.length === 0) return [{ name: componentName, port: 80, targetPort: 8080 }];
    const [first, ...rest] = containerPorts;
    return [
        { name: first.name ?? "", port: 80, targetPort: first.containerPort },
        ...rest.map((p) => ({ name: p.name ?? "", port: p.containerPort, targetPort: p.containerPort })),
    ];
}
