import * as assert from "node:assert/strict";
import { imageRefProblem, movingTags, storageUriProblem } from "../../../components/config/models";
import { parseStackConfig } from "../../../components/config/stack";
import { asConfigString, problemsOf, stackConfig, reachableApiEndpoint } from "./stackFiles";

const qwen = "hf://Qwen/Qwen2.5-0.5B-Instruct:7ae557604adf67be50417f59c2c2f167def9a775";
const iris = "gs://kfserving-examples/models/sklearn/1.0/model";
const llm = { name: "qwen", format: "vllm", storageUri: qwen, gpus: 1 };
const cpu = { name: "iris", format: "sklearn", storageUri: iris };
/** An API key as `openssl rand -hex 32` makes one. */
const apiKey = "5f0c8e1d9a7b3c2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e";

/** Raw stack config as Pulumi hands it over: one A100 group unless `gpuNodeGroups` says otherwise. */
function raw(models: object[], extra: Record<string, unknown> = {}): Record<string, string> {
    const values: Record<string, unknown> = {
        gpuNodeGroups: [{ name: "a100", instanceType: "p4d.24xlarge" }],
        apiEndpoint: reachableApiEndpoint,
        models,
        ...extra,
    };
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [`gpu-serverless:${k}`, asConfigString(v)]));
}

describe("stack config: models and activator", () => {
    it("fills in every model default, routing LLMs by OpenAI model name and other models by /v2/models/<name>", () => {
        const { models, activator } = parseStackConfig(raw([llm, cpu]));
        assert.deepEqual(models[1], {
            name: "iris",
            namespace: "models",
            format: "sklearn",
            storageUri: iris,
            runtimeArgs: [],
            gpus: 0,
            cpu: "1",
            memory: "4Gi",
            minReplicas: 0,
            maxReplicas: 1,
            cooldownSeconds: 300,
            pollingSeconds: 15,
            targetConcurrency: 10,
            vllm: undefined,
            routing: { hosts: [], pathPrefix: "/v2/models/iris", openaiModels: [], replicaChoice: "prefix-affine", kserve: { modelName: "iris", protocols: ["v1", "v2"] } },
            requestTimeoutSeconds: 600,
            maxPending: 1000,
            upstreamKeepAliveSeconds: 4,
            // CPU model: no scale-up delay; a system node added when those are full (600) + image pull 180 + download 180 + startup 120.
            coldStart: { imagePullSeconds: 180, downloadSeconds: 180, startupSeconds: 120 },
            coldStartSet: [],
            coldStartTimeoutSeconds: 1080,
            coldStartTimeoutExplicit: false,
            runtime: "auto",
            prewarm: [],
        });
        assert.deepEqual(models[0].routing, { hosts: [], openaiModels: ["qwen"], replicaChoice: "prefix-affine" });
        assert.deepEqual(models[0].vllm, { waitingRequestsPerReplica: 5, kvCacheUsage: 0.8 });
        assert.deepEqual(activator, {
            namespace: "activator",
            replicas: 2,
            exposure: "internal",
            allowedCidrs: [],
            apiKeySecrets: [],
            corsAllowedOrigins: [],
            shutdownGraceSeconds: 30,
            limits: { maxBodyBytes: 10 * 1024 * 1024, maxPendingTotal: 10_000, maxBufferedBodyBytes: 128 * 1024 * 1024 },
            cpu: "1",
            memory: "768Mi",
            queueReads: { intervalSeconds: 5, timeoutSeconds: 3, maxStalenessSeconds: 15 },
        });
    });

    it("accepts the activator's limits with the memory they need, and lowered limits in a smaller pod", () => {
        const big = parseStackConfig(raw([], { activator: { limits: { maxBodyBytes: 20 * 1024 * 1024, maxBufferedBodyBytes: 256 * 1024 * 1024 }, memory: "1Gi" } }));
        assert.equal(big.activator.limits.maxBufferedBodyBytes, 256 * 1024 * 1024);
        const small = parseStackConfig(raw([], { activator: { limits: { maxPendingTotal: 2000, maxBufferedBodyBytes: 64 * 1024 * 1024 }, memory: "512Mi" } }));
        assert.equal(small.activator.memory, "512Mi");
    });

    it("keeps explicit routing as given and accepts CPU quantities written as numbers", () => {
        const [model] = parseStackConfig(raw([{ ...llm, cpu: 8, routing: { hosts: ["chat.example.com"] } }])).models;
        assert.deepEqual(model.routing, { hosts: ["chat.example.com"], openaiModels: [], replicaChoice: "prefix-affine" });
        assert.equal(model.cpu, "8");
    });

    it("takes a replica choice per model and refuses an unknown one naming the key", () => {
        const [model] = parseStackConfig(raw([{ ...llm, routing: { replicaChoice: "service" } }])).models;
        assert.equal(model.routing.replicaChoice, "service");
        assert.throws(() => parseStackConfig(raw([{ ...llm, routing: { replicaChoice: "random" } }])), /models\[0\]\.routing\.replicaChoice/);
    });

    it("accepts a public activator limited to CIDRs, with API keys, and a pinned prebuilt image", () => {
        const image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/activator:0.1.0";
        const settings = { exposure: "public", allowedCidrs: ["203.0.113.0/24"], apiKeySecrets: ["activatorApiKey", "ciApiKey"], image };
        const { activator } = parseStackConfig(raw([], { activator: settings, activatorApiKey: apiKey, ciApiKey: `${apiKey}-ci` }));
        assert.equal(activator.exposure, "public");
        assert.deepEqual(activator.apiKeySecrets, ["activatorApiKey", "ciApiKey"]);
        assert.equal(activator.image, image);
    });

    it("accepts API keys on an internal activator too", () => {
        const { activator } = parseStackConfig(raw([], { activator: { apiKeySecrets: ["activatorApiKey"] }, activatorApiKey: apiKey }));
        assert.deepEqual([activator.exposure, activator.apiKeySecrets], ["internal", ["activatorApiKey"]]);
    });

    it("never repeats an API key's value in a problem", () => {
        const weak = "short key!";
        const problems = problemsOf(raw([], { activator: { apiKeySecrets: ["activatorApiKey"] }, activatorApiKey: weak }));
        assert.deepEqual(problems, [
            "gpu-serverless:activator.apiKeySecrets[0]: gpu-serverless:activatorApiKey must be at least 16 visible ASCII characters without spaces (clients send it in a header); create one with openssl rand -hex 32",
        ]);
        assert.ok(!problems.join("\n").includes(weak));
    });

    it("dev ships a vLLM model on one A100 and a CPU sklearn model, both pinned and scaled from zero; prod ships none", () => {
        const { models, activator } = parseStackConfig(stackConfig("dev"));
        assert.deepEqual(
            models.map((m) => [m.name, m.format, m.gpus, m.minReplicas, storageUriProblem(m.storageUri)]),
            [
                ["qwen", "vllm", 1, 0, undefined],
                ["iris", "sklearn", 0, 0, undefined],
            ],
        );
        assert.deepEqual(models[0].routing.openaiModels, ["qwen2.5-0.5b-instruct"]);
        assert.equal(activator.exposure, "internal");
        assert.deepEqual(parseStackConfig(stackConfig("prod")).models, []);
    });

    // Each invalid config fails before any resource exists, with the offending key named.
    const invalid: Array<[string, object[], Record<string, unknown>, RegExp]> = [
        ["a name that is not a DNS label", [{ ...cpu, name: "Iris_Model" }], {}, /gpu-serverless:models\[0\]\.name: must be a DNS-1123 label/],
        ["a name starting with a digit", [{ ...cpu, name: "1iris" }], {}, /models\[0\]\.name: must be a DNS-1123 label starting with a letter/],
        ["a name too long for KServe's labels", [{ ...cpu, name: "m".repeat(49) }], {}, /models\[0\]\.name: must be at most 48 characters/],
        ["minReplicas above maxReplicas", [{ ...cpu, minReplicas: 3, maxReplicas: 2 }], {}, /models\[0\]\.minReplicas: must not exceed maxReplicas \(2\)/],
        ["GPUs on a CPU-only format", [{ ...cpu, gpus: 1 }], {}, /models\[0\]\.gpus: must be 0: the sklearn runtime runs on CPU only/],
        ["vLLM without a GPU", [{ ...llm, gpus: 0 }], {}, /models\[0\]\.gpus: must be at least 1: the vllm runtime needs a GPU/],
        ["more GPUs than a node has", [{ ...llm, gpus: 9 }], {}, /models\[0\]\.gpus: at most 8/],
        ["GPUs without an A100 group", [llm], { gpuNodeGroups: [] }, /models\[0\]\.gpus: needs an A100 node group, but gpu-serverless:gpuNodeGroups is empty/],
        ["an unknown A100 group", [{ ...llm, gpuNodeGroup: "h100" }], {}, /models\[0\]\.gpuNodeGroup: "h100" is not a GPU node group; known: a100/],
        ["an A100 group on a CPU model", [{ ...cpu, gpuNodeGroup: "a100" }], {}, /models\[0\]\.gpuNodeGroup: only for GPU models/],
        ["an unpinned Hugging Face model", [{ ...llm, storageUri: "hf://Qwen/Qwen2.5-0.5B-Instruct" }], {}, /models\[0\]\.storageUri: "hf:\/\/Qwen\/Qwen2\.5-0\.5B-Instruct" is not pinned: add the commit/],
        ["a Hugging Face branch", [{ ...llm, storageUri: "hf://Qwen/Qwen2.5-0.5B-Instruct:main" }], {}, /models\[0\]\.storageUri: .*revision "main" is not a full 40-hex commit SHA/],
        ["a moving S3 tag", [{ ...cpu, storageUri: "s3://models/iris/latest" }], {}, /models\[0\]\.storageUri: .*"latest" is a moving name/],
        ["an S3 path without a version", [{ ...cpu, storageUri: "s3://models/iris/model" }], {}, /models\[0\]\.storageUri: .*no version in the path/],
        ["an unsupported storage scheme", [{ ...cpu, storageUri: "https://example.com/iris/v1" }], {}, /models\[0\]\.storageUri: .*not a supported model location/],
        ["an unknown format", [{ ...cpu, format: "keras" }], {}, /models\[0\]\.format: /],
        ["TensorFlow Serving, which answers no /v2 health check or route", [{ ...cpu, format: "tensorflow" }], {}, /models\[0\]\.format: /],
        ["an unknown model key", [{ ...cpu, replicas: 2 }], {}, /models\[0\]\.replicas: /],
        ["a duplicate name", [cpu, { ...cpu, namespace: "other" }], {}, /models\[1\]\.name: duplicate model name "iris" \(also models\[0\]\)/],
        ["a duplicate OpenAI model", [llm, { ...llm, name: "qwen-2", routing: { openaiModels: ["qwen"] } }], {}, /models\[1\]\.routing\.openaiModels\[0\]: OpenAI model "qwen" is already routed to models\[0\]/],
        ["a duplicate host route", [{ ...cpu, routing: { hosts: ["a.example.com"] } }, { ...cpu, name: "iris-2", routing: { hosts: ["a.example.com"] } }], {}, /models\[1\]\.routing\.hosts\[0\]: host "a\.example\.com" with path prefix "\/" is already routed to models\[0\]/],
        ["a duplicate path prefix", [{ ...cpu, routing: { pathPrefix: "/iris" } }, { ...cpu, name: "iris-2", routing: { pathPrefix: "/iris" } }], {}, /models\[1\]\.routing\.pathPrefix: any host with path prefix "\/iris" is already routed/],
        [
            "a non-LLM whose KServe v1 name is an LLM's OpenAI model",
            [{ ...llm, routing: { openaiModels: ["iris"] } }, cpu],
            {},
            /models\[1\]\.name: KServe v1 model "iris" is also an OpenAI model of models\[0\]: GET \/v1\/models\/iris would answer for both/,
        ],
        ["OpenAI routing on a non-LLM", [{ ...cpu, routing: { openaiModels: ["iris"] } }], {}, /models\[0\]\.routing\.openaiModels: only for vllm\/huggingface models/],
        ["two OpenAI names for one server", [{ ...llm, routing: { openaiModels: ["a", "b"] } }], {}, /models\[0\]\.routing\.openaiModels: at most one/],
        ["vLLM targets on a non-LLM", [{ ...cpu, vllm: { kvCacheUsage: 0.5 } }], {}, /models\[0\]\.vllm: only for vllm\/huggingface models/],
        ["a KV-cache target above 1", [{ ...llm, vllm: { kvCacheUsage: 1.5 } }], {}, /models\[0\]\.vllm\.kvCacheUsage: /],
        [
            "a queue URL where the queue's ARN goes",
            [{ ...cpu, queueScaling: { sqsQueueArns: ["https://sqs.us-east-1.amazonaws.com/123456789012/jobs"] } }],
            {},
            /models\[0\]\.queueScaling\.sqsQueueArns\[0\]: must be an SQS queue ARN arn:aws:sqs:<region>:<12-digit account>:<queue name>, got "https:/,
        ],
        ["an SQS endpoint that is not a URL", [], { activator: { queueReads: { endpoint: "vpce-123" } } }, /gpu-serverless:activator\.queueReads\.endpoint: /],
        ["a model in the activator's namespace", [{ ...cpu, namespace: "activator" }], {}, /models\[0\]\.namespace: must differ from the activator's namespace "activator"/],
        ["a model in kube-system", [{ ...cpu, namespace: "kube-system" }], {}, /models\[0\]\.namespace: "kube-system" is reserved/],
        ["an invalid memory quantity", [{ ...cpu, memory: "4GB" }], {}, /models\[0\]\.memory: must be a memory quantity/],
        ["an HF token key that is not a config key", [{ ...llm, hfTokenSecret: "hf token" }], {}, /models\[0\]\.hfTokenSecret: must be a config key name/],
        ["public exposure without CIDRs", [], { activator: { exposure: "public" } }, /gpu-serverless:activator\.allowedCidrs: required with exposure public/],
        [
            "public exposure without API keys",
            [],
            { activator: { exposure: "public", allowedCidrs: ["203.0.113.0/24"] } },
            /^gpu-serverless:activator\.apiKeySecrets: required with exposure public: name at least one secret config key holding an API key/,
        ],
        [
            "an API key secret that is not set",
            [],
            { activator: { apiKeySecrets: ["activatorApiKey"] } },
            /^gpu-serverless:activator\.apiKeySecrets\[0\]: gpu-serverless:activatorApiKey is not set; run openssl rand -hex 32 \| pulumi config set --secret activatorApiKey$/,
        ],
        ["an API key secret name that is not a config key", [], { activator: { apiKeySecrets: ["api key"] } }, /^gpu-serverless:activator\.apiKeySecrets\[0\]: must be a config key name/],
        [
            "an API key secret named twice",
            [],
            { activator: { apiKeySecrets: ["activatorApiKey", "activatorApiKey"] }, activatorApiKey: apiKey },
            /^gpu-serverless:activator\.apiKeySecrets\[1\]: "activatorApiKey" is already apiKeySecrets\[0\]$/,
        ],
        [
            "an API key with a space",
            [],
            { activator: { apiKeySecrets: ["activatorApiKey"] }, activatorApiKey: `${apiKey} x` },
            /^gpu-serverless:activator\.apiKeySecrets\[0\]: gpu-serverless:activatorApiKey must be at least 16 visible ASCII characters without spaces/,
        ],
        ["public exposure to the whole internet", [], { activator: { exposure: "public", allowedCidrs: ["0.0.0.0/0"] } }, /activator\.allowedCidrs\[0\]: 0\.0\.0\.0\/0 opens the activator to the whole internet/],
        ["an activator image on latest", [], { activator: { image: "example.com/activator:latest" } }, /activator\.image: .*moving tag latest/],
        ["an activator image without a tag", [], { activator: { image: "example.com/activator" } }, /activator\.image: .*neither a tag nor a digest/],
        ["no activator replicas", [], { activator: { replicas: 0 } }, /activator\.replicas: /],
        ["an unknown activator key", [], { activator: { grace: 10 } }, /activator\.grace: /],
        ["an unknown activator limit", [], { activator: { limits: { maxBody: 1 } } }, /^gpu-serverless:activator\.limits\.maxBody: /],
        [
            "a body budget below one body",
            [],
            { activator: { limits: { maxBodyBytes: 64 * 1024 * 1024, maxBufferedBodyBytes: 32 * 1024 * 1024 } } },
            /^gpu-serverless:activator\.limits\.maxBufferedBodyBytes: must be at least limits\.maxBodyBytes \(67108864\)/,
        ],
        [
            "a pod memory below what the default limits need",
            [],
            { activator: { memory: "512Mi" } },
            /^gpu-serverless:activator\.memory: 512Mi is less than the 657Mi the limits and 0 model\(s\) need \(maxPendingTotal 10000, maxBufferedBodyBytes 134217728;.*raise memory to at least 657Mi or lower the limits$/,
        ],
        [
            "limits raised without the memory they need",
            [],
            { activator: { limits: { maxBufferedBodyBytes: 512 * 1024 * 1024 } } },
            /^gpu-serverless:activator\.memory: 768Mi is less than the 1257Mi the limits and 0 model\(s\) need/,
        ],
        ["a zero model request timeout", [{ ...cpu, requestTimeoutSeconds: 0 }], {}, /^gpu-serverless:models\[0\]\.requestTimeoutSeconds: /],
        ["a zero maxPending", [{ ...cpu, maxPending: 0 }], {}, /^gpu-serverless:models\[0\]\.maxPending: /],
        ["a fractional maxConcurrencyPerReplica", [{ ...cpu, maxConcurrencyPerReplica: 1.5 }], {}, /^gpu-serverless:models\[0\]\.maxConcurrencyPerReplica: /],
    ];
    for (const [what, models, extra, expected] of invalid) {
        it(`refuses ${what}, naming the key`, () => {
            const problems = problemsOf(raw(models, extra));
            assert.ok(problems.some((p) => expected.test(p)), `expected ${expected} among:\n  ${problems.join("\n  ")}`);
        });
    }
});

describe("pinned model locations", () => {
    const pinned = [
        qwen,
        iris,
        "s3://my-models/llama/v1.2.3/weights",
        "s3://my-models/iris/2024-05-01",
        "gs://bucket/model/3f2a9c1b7d4e",
        "s3://bucket/path/v2-rc.1/",
        // Cloud Storage allows underscores in bucket names (S3 does not).
        "gs://my_bucket/models/m/v1",
    ];
    for (const uri of pinned) {
        it(`accepts ${uri}`, () => assert.equal(storageUriProblem(uri), undefined));
    }

    it("refuses every moving name as a path segment, whatever its case, even next to a version", () => {
        for (const tag of movingTags) {
            for (const uri of [`s3://bucket/models/v1.0/${tag}`, `gs://bucket/${tag.toUpperCase()}/1.0/model`]) {
                assert.match(storageUriProblem(uri) ?? "", /moving name/, uri);
            }
        }
    });

    it("refuses an underscore in an S3 bucket name, naming the bucket rules", () => {
        assert.match(storageUriProblem("s3://my_bucket/models/m/v1") ?? "", /bucket "my_bucket" is not an S3 bucket name/);
    });

    it("refuses malformed Hugging Face locations", () => {
        assert.match(storageUriProblem("hf://Qwen") ?? "", /not a Hugging Face location/);
        assert.match(storageUriProblem("hf://Qwen/Qwen2.5-0.5B-Instruct:7ae5576") ?? "", /not a full 40-hex commit SHA/);
    });
});

describe("pinned activator images", () => {
    const digest = "sha256:" + "a".repeat(64);
    const cases: Array<[string, RegExp | undefined]> = [
        ["123456789012.dkr.ecr.us-west-2.amazonaws.com/activator:0.1.0", undefined],
        [`registry.example.com:5000/team/activator@${digest}`, undefined],
        [`registry.example.com/activator:latest@${digest}`, undefined],
        ["activator:12", undefined],
        ["registry.example.com:5000/activator", /neither a tag nor a digest/],
        ["registry.example.com/activator:latest", /moving tag latest/],
        ["Registry/Activator:1", /not an image reference/],
    ];
    for (const [ref, problem] of cases) {
        it(`${problem ? "refuses" : "accepts"} ${ref}`, () => {
            const found = imageRefProblem(ref);
            if (problem) assert.match(found ?? "", problem);
            else assert.equal(found, undefined);
        });
    }
});
