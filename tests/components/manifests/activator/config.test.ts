import * as assert from "node:assert/strict";
import { buildRouteTable, matchHostPath, matchKServePath, modelKey, parseActivatorConfig, parseApiKeyDigests } from "../../../../activator/src/index";
import { createHash } from "node:crypto";
import { activatorConfig, activatorConfigFile, apiKeysSecretData, nlbIdleTimeoutSeconds, vllmMaxNumSeqs } from "../../../../components/manifests/activator/config";
import { podsServiceManifest } from "../../../../components/manifests/activator/services";
import { modelFormats, isLlmFormat } from "../../../../components/config/models";
import { servingRuntimes } from "../../../../components/manifests/model/runtime";
import { cpuModel, llmModel, stackWith } from "../model/fixtures";
import { activatorPorts, apiKeysDir, apiKeysFileName, peerTokenDir, peerTokenFileName } from "../../../../components/manifests/activator/names";

describe("activator config generated from the models", () => {
    const stack = stackWith(
        [
            llmModel,
            cpuModel,
            { ...cpuModel, name: "fraud", format: "xgboost", storageUri: "s3://models/fraud/v3", namespace: "risk", routing: { hosts: ["fraud.example.com", "*.fraud.example.com"] } },
            {
                ...llmModel,
                name: "coder",
                routing: { openaiModels: ["qwen-coder"], pathPrefix: "/coder", replicaChoice: "least-loaded" },
                coldStartTimeoutSeconds: 1200,
                requestTimeoutSeconds: 1800,
                maxPending: 50,
                maxConcurrencyPerReplica: 8,
                upstreamKeepAliveSeconds: 2,
            },
        ],
        { shutdownGraceSeconds: 45, limits: { maxBodyBytes: 20 * 1024 * 1024, maxBufferedBodyBytes: 256 * 1024 * 1024 }, memory: "1Gi" },
    );
    const input = activatorConfig(stack.models, stack.activator);
    const parsed = parseActivatorConfig(JSON.parse(activatorConfigFile(input)));

    it("listens where the Services point and finds its peers through the headless Service", () => {
        assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("\n"));
        assert.deepEqual(parsed.config.listeners, {
            proxy: { host: "0.0.0.0", port: 8080 },
            scaler: { host: "0.0.0.0", port: 9090 },
            admin: { host: "0.0.0.0", port: 9091 },
        });
        assert.deepEqual(parsed.config.peers?.kubernetes, { namespace: stack.activator.namespace, service: "activator-pods", port: 9091 });
        assert.equal(parsed.config.peers?.tokenFile, "/etc/activator-peer-token/token");
        assert.deepEqual(parsed.config.models.map((m) => m.serviceName).sort(), ["coder-predictor", "fraud-predictor", "iris-predictor", "qwen-predictor"]);
    });

    it("routes every model: OpenAI names, path prefixes and hosts each reach their model", () => {
        assert.ok(parsed.ok);
        const table = buildRouteTable(parsed.config.models.map((m) => ({ keys: m, target: modelKey(m) })));
        assert.equal(table.openai.get("qwen"), "models/qwen");
        assert.equal(table.openai.get("qwen-coder"), "models/coder");
        assert.equal(matchHostPath(table, "gateway.internal", "/v2/models/iris/infer"), "models/iris");
        assert.equal(matchHostPath(table, "gateway.internal", "/coder/v1/chat/completions"), "models/coder");
        assert.equal(matchHostPath(table, "fraud.example.com", "/v1/models/fraud:predict"), "risk/fraud");
        assert.equal(matchHostPath(table, "eu.fraud.example.com", "/v2/models/fraud/infer"), "risk/fraud");
        const routed = new Set([...table.openai.values(), ...table.anyHost.map((r) => r.target), ...[...table.exact.values()].flat().map((r) => r.target)]);
        assert.deepEqual([...routed].sort(), stack.models.map((m) => `${m.namespace}/${m.name}`).sort());
    });

    it("routes KServe's v1 and v2 paths of each non-LLM model by its name, on any host; LLMs get none", () => {
        assert.ok(parsed.ok);
        const table = buildRouteTable(parsed.config.models.map((m) => ({ keys: m, target: modelKey(m) })));
        assert.equal(matchKServePath(table, "/v1/models/iris:predict"), "models/iris");
        assert.equal(matchKServePath(table, "/v1/models/fraud:predict"), "risk/fraud");
        assert.equal(matchKServePath(table, "/v2/models/fraud/infer"), "risk/fraud");
        assert.equal(matchKServePath(table, "/v1/models/qwen"), undefined, "GET /v1/models/qwen stays OpenAI's model object");
        assert.deepEqual(parsed.config.models.map((m) => m.kserve?.modelName), [undefined, "iris", "fraud", undefined]);
    });

    it("routes KServe's v1 paths exactly for the formats whose runtime is not deployed as v2-only", () => {
        for (const format of modelFormats.filter((f) => !isLlmFormat(f))) {
            const gpu = ["sklearn", "xgboost", "lightgbm", "pmml", "paddle", "mlflow"].includes(format) ? {} : { gpus: 1 };
            const one = stackWith([{ ...cpuModel, format, ...gpu }]);
            const [m] = activatorConfig(one.models, one.activator).models;
            const expected = servingRuntimes[format].protocolVersion === "v2" ? ["v2"] : ["v1", "v2"];
            assert.deepEqual(m!.kserve, { modelName: "iris", protocols: expected }, format);
        }
    });

    it("points each model at its predictor Service and watches that Service's EndpointSlices", () => {
        assert.ok(parsed.ok);
        const [qwen, iris, fraud] = parsed.config.models;
        assert.equal(parsed.config.readiness.mode, "kubernetes");
        assert.deepEqual([qwen.backend, qwen.serviceName], ["http://qwen-predictor.models.svc.cluster.local", "qwen-predictor"]);
        assert.deepEqual([fraud.backend, fraud.serviceName], ["http://fraud-predictor.risk.svc.cluster.local", "fraud-predictor"]);
        assert.deepEqual([iris.coldStartTimeoutSeconds, iris.targetConcurrency], [1080, 10]);
    });

    it("passes the limits and each model's timeouts, queue bound and connection settings to the activator", () => {
        assert.ok(parsed.ok);
        assert.deepEqual(
            { ...parsed.config.limits, requestTimeoutSeconds: undefined, headersTimeoutSeconds: undefined },
            { maxBodyBytes: 20 * 1024 * 1024, maxPendingTotal: 10_000, maxBufferedBodyBytes: 256 * 1024 * 1024, requestTimeoutSeconds: undefined, headersTimeoutSeconds: undefined },
        );
        const coder = parsed.config.models[3]!;
        assert.deepEqual(
            [coder.requestTimeoutSeconds, coder.maxPending, coder.maxConcurrencyPerReplica, coder.upstreamKeepAliveSeconds],
            [1800, 50, 8, 2],
        );
        const iris = parsed.config.models[1]!;
        assert.deepEqual([iris.requestTimeoutSeconds, iris.maxPending, iris.maxConcurrencyPerReplica, iris.upstreamKeepAliveSeconds], [600, 1000, undefined, 4]);
    });

    it("passes each model's replica choice: prefix-affine unless the model says otherwise", () => {
        assert.ok(parsed.ok);
        assert.deepEqual(
            parsed.config.models.map((m) => [m.name, m.replicaChoice.policy]),
            [["qwen", "prefix-affine"], ["iris", "prefix-affine"], ["fraud", "prefix-affine"], ["coder", "least-loaded"]],
        );
        assert.deepEqual([parsed.config.models[3]!.replicaChoice.prefixBytes, parsed.config.models[3]!.replicaChoice.boundFactor], [1024, 1.25]);
    });

    it("refuses an unknown replica choice naming the key", () => {
        const bad = parseActivatorConfig({ ...input, models: [{ ...input.models[0]!, replicaChoice: { policy: "random" } }] });
        assert.ok(!bad.ok);
        assert.match(bad.errors.join("\n"), /^models\[0\]\.replicaChoice\.policy: /m);
    });

    it("finds its peers through the headless Service the StatefulSet is governed by, on the admin port", () => {
        assert.ok(parsed.ok);
        const pods = podsServiceManifest(stack.activator.namespace);
        assert.deepEqual(parsed.config.peers, {
            kubernetes: { namespace: stack.activator.namespace, service: pods.metadata.name, port: activatorPorts.admin },
            tokenFile: `${peerTokenDir}/${peerTokenFileName}`,
            heartbeatSeconds: 1,
            ttlSeconds: 3,
        });
        assert.equal(pods.spec.ports[0]!.port, activatorPorts.admin);
    });

    it("passes each LLM's vLLM targets to the activator, which reads vLLM's gauges itself; other models none", () => {
        assert.ok(parsed.ok);
        const [qwen, iris] = parsed.config.models;
        // max_num_seqs: vLLM's default for the OpenAI server on A100s (the stack's GPUs), no --max-num-seqs given
        assert.deepEqual(qwen!.vllm, { waitingRequestsPerReplica: 5, kvCacheUsage: 0.8, metricsPath: "/metrics", maxNumSeqs: 256 });
        assert.equal(iris!.vllm, undefined);
        const [tuned] = stackWith([{ ...llmModel, runtimeArgs: ["--max-num-seqs", "48"], vllm: { waitingRequestsPerReplica: 2, kvCacheUsage: 0.5 } }]).models;
        const generated = activatorConfig([tuned!], stack.activator).models[0]!;
        assert.deepEqual(generated.vllm, { waitingRequestsPerReplica: 2, kvCacheUsage: 0.5, maxNumSeqs: 48 });
        assert.deepEqual(qwen!.failFast, { enabled: true, unschedulableGraceSeconds: 900 }, "fail fast on, in kubernetes mode");
    });

    it("reads the engine's max_num_seqs from the runtime arguments as vLLM does (the last wins), else vLLM's A100 default", () => {
        const cases: Array<[string[], number]> = [
            [[], 256],
            [["--max-model-len", "8192"], 256],
            [["--max-num-seqs", "64"], 64],
            [["--max-num-seqs=32"], 32],
            [["--max_num_seqs", "16"], 16],
            [["--max-num-seqs", "64", "--max-num-seqs=128"], 128],
        ];
        for (const [args, want] of cases) assert.equal(vllmMaxNumSeqs(args), want, args.join(" "));
        assert.throws(() => vllmMaxNumSeqs(["--max-num-seqs", "lots"]), /runtimeArgs --max-num-seqs: "lots" is not a positive integer/);
        assert.throws(() => vllmMaxNumSeqs(["--max-num-seqs"]), /runtimeArgs --max-num-seqs: "" is not a positive integer/);
    });

    it("listens where the Deployment's ports are and drains for the configured grace", () => {
        assert.ok(parsed.ok);
        const { listeners, shutdownGraceSeconds } = parsed.config;
        assert.deepEqual([listeners.proxy.port, listeners.scaler.port, listeners.admin.port], [activatorPorts.proxy, activatorPorts.scaler, activatorPorts.admin]);
        assert.equal(shutdownGraceSeconds, 45);
    });

    it("asks the NLB (through the Load Balancer Controller's annotation) for an idle timeout above the longest hold", () => {
        assert.ok(parsed.ok);
        const idle = nlbIdleTimeoutSeconds(input);
        assert.ok(idle > parsed.config.limits.requestTimeoutSeconds, `${idle}`);
        assert.ok(idle > 1200 && idle <= 6000);
        const small = stackWith([{ ...cpuModel, coldStartTimeoutSeconds: 10 }]);
        assert.equal(nlbIdleTimeoutSeconds(activatorConfig(small.models, small.activator)), 330);
    });

    it("turns authentication on, reading the mounted digests file, exactly when the stack names API keys", () => {
        assert.ok(parsed.ok);
        assert.equal(parsed.config.auth, undefined, "no API keys: no auth");
        const keyed = stackWith([cpuModel], { apiKeySecrets: ["activatorApiKey"] });
        const withKeys = parseActivatorConfig(JSON.parse(activatorConfigFile(activatorConfig(keyed.models, keyed.activator))));
        assert.ok(withKeys.ok, withKeys.ok ? "" : withKeys.errors.join("\n"));
        assert.deepEqual(withKeys.config.auth, { apiKeysFile: `${apiKeysDir}/${apiKeysFileName}` });
    });

    it("writes the API keys Secret as the digests file the activator reads, never the keys", () => {
        const keys = ["sk-test-0123456789-a", "sk-test-0123456789-b"];
        const data = apiKeysSecretData(keys);
        assert.deepEqual(Object.keys(data), [apiKeysFileName]);
        const read = parseApiKeyDigests(data[apiKeysFileName]);
        assert.ok(read.ok);
        assert.deepEqual([...read.digests], keys.map((k) => createHash("sha256").update(k).digest("hex")));
        assert.doesNotMatch(data[apiKeysFileName], /sk-test/);
    });

    it("refuses to write a config the activator would refuse", () => {
        const bad = { ...input, models: [{ ...input.models[0], backend: "not a url" }] };
        assert.throws(() => activatorConfigFile(bad), /generated activator config is invalid:\n {2}models\[0\]\.backend: not a URL/);
    });
});
