/**
 * The fast-path stack keys (issue 17): imageCache, vpcEndpoints, gpuNodeGroups[].warm, models[].prewarm,
 * models[].runtime and oci:// storage URIs: each bad value is one line naming the key path.
 */
import * as assert from "node:assert/strict";
import { storageUriProblem } from "../../../components/config/models";
import { parseStackConfig } from "../../../components/config/stack";
import { problemsOf, reachableApi } from "./stackFiles";

const llm = { name: "llama", format: "vllm", storageUri: "s3://models-bucket/llama/v1", gpus: 1, maxReplicas: 2 };
const withModel = (extra: Record<string, unknown>) => ({ ...reachableApi, "gpu-serverless:models": JSON.stringify([{ ...llm, ...extra }]) });
const withGroup = (extra: Record<string, unknown>) => ({
    ...reachableApi,
    "gpu-serverless:gpuNodeGroups": JSON.stringify([{ name: "a100", instanceType: "p4d.24xlarge", maxSize: 2, ...extra }]),
});

describe("stack config: fast-path keys", () => {
    it("leaves everything off by default, so an existing stack creates nothing new", () => {
        const c = parseStackConfig(reachableApi);
        assert.deepEqual(c.imageCache, { pullThroughCache: false, nvcrMirror: false });
        assert.equal(c.vpcEndpoints, false);
        assert.equal(c.gpuNodeGroups[0].warm, undefined);
    });

    it("imageCache.pullThroughCache needs both credential secrets, which must be set as JSON {username, accessToken}", () => {
        assert.deepEqual(problemsOf({ ...reachableApi, "gpu-serverless:imageCache": JSON.stringify({ pullThroughCache: true }) }), [
            'gpu-serverless:imageCache.dockerHubCredentialsSecret: required with pullThroughCache: ECR caches Docker Hub only with credentials; name a secret config key holding {"username": ..., "accessToken": ...}',
            'gpu-serverless:imageCache.githubCredentialsSecret: required with pullThroughCache: ECR caches GitHub Container Registry only with credentials; name a secret config key holding {"username": ..., "accessToken": ...}',
        ]);
        const cache = { pullThroughCache: true, dockerHubCredentialsSecret: "dockerHub", githubCredentialsSecret: "ghcr" };
        const problems = problemsOf({ ...reachableApi, "gpu-serverless:imageCache": JSON.stringify(cache), "gpu-serverless:dockerHub": "not json" });
        assert.deepEqual(problems, [
            'gpu-serverless:imageCache.dockerHubCredentialsSecret: gpu-serverless:dockerHub must be JSON {"username": "...", "accessToken": "..."} (the keys ECR reads from its Secrets Manager secret)',
            `gpu-serverless:imageCache.githubCredentialsSecret: gpu-serverless:ghcr is not set; run pulumi config set --secret ghcr '{"username": "<user>", "accessToken": "<token>"}'`,
        ]);
        const credential = JSON.stringify({ username: "u", accessToken: "t" });
        const ok = parseStackConfig({ ...reachableApi, "gpu-serverless:imageCache": JSON.stringify(cache), "gpu-serverless:dockerHub": credential, "gpu-serverless:ghcr": credential });
        assert.equal(ok.imageCache.pullThroughCache, true);
    });

    it("refuses credential secrets without pullThroughCache, and unknown imageCache keys", () => {
        assert.deepEqual(problemsOf({ ...reachableApi, "gpu-serverless:imageCache": JSON.stringify({ nvcrMirror: true, mirror: true }) }), [
            "gpu-serverless:imageCache.mirror: unknown key; known keys: pullThroughCache, dockerHubCredentialsSecret, githubCredentialsSecret, nvcrMirror",
        ]);
        const problems = problemsOf({ ...reachableApi, "gpu-serverless:imageCache": JSON.stringify({ dockerHubCredentialsSecret: "x" }), "gpu-serverless:x": '{"username":"u","accessToken":"t"}' });
        assert.deepEqual(problems, ["gpu-serverless:imageCache.dockerHubCredentialsSecret: only used with pullThroughCache: true; remove it or turn pullThroughCache on"]);
    });

    it("gpuNodeGroups[].warm: nodes within maxSize, a schedule KEDA would accept", () => {
        const c = parseStackConfig(withGroup({ warm: { nodes: 1, schedule: { timezone: "Europe/Berlin", start: "0 8 * * 1-5", end: "0 18 * * 1-5" } } }));
        assert.deepEqual(c.gpuNodeGroups[0].warm, { nodes: 1, schedule: { timezone: "Europe/Berlin", start: "0 8 * * 1-5", end: "0 18 * * 1-5" } });
        assert.deepEqual(problemsOf(withGroup({ warm: { nodes: 3 } })), ["gpu-serverless:gpuNodeGroups[0].warm.nodes: 3 spare nodes cannot fit under maxSize 2"]);
        assert.deepEqual(problemsOf(withGroup({ warm: { nodes: 1, schedule: { timezone: "Mars/Olympus", start: "0 8 * *", end: "0 8 * * *" } } })), [
            'gpu-serverless:gpuNodeGroups[0].warm.schedule.timezone: "Mars/Olympus" is not an IANA time zone such as Europe/Berlin',
            `gpu-serverless:gpuNodeGroups[0].warm.schedule.start: "0 8 * *" has 4 fields; KEDA's cron takes 5 (minute hour day-of-month month day-of-week)`,
        ]);
    });

    it("models[].prewarm: a cron window of at most maxReplicas", () => {
        const window = { timezone: "UTC", start: "0 8 * * 1-5", end: "0 18 * * 1-5" };
        assert.deepEqual(parseStackConfig(withModel({ prewarm: [window] })).models[0].prewarm, [{ ...window, desiredReplicas: 1 }]);
        assert.deepEqual(problemsOf(withModel({ prewarm: [{ ...window, desiredReplicas: 3 }] })), ["gpu-serverless:models[0].prewarm[0].desiredReplicas: 3 is above maxReplicas 2"]);
        assert.deepEqual(problemsOf(withModel({ prewarm: [{ ...window, end: window.start }] })), [
            "gpu-serverless:models[0].prewarm[0].end: must differ from start (KEDA refuses equal start and end)",
        ]);
    });

    it("models[].runtime: the streaming runtime for vllm models with s3:// weights only", () => {
        assert.equal(parseStackConfig(withModel({ runtime: "gpu-serverless-vllm-openai" })).models[0].runtime, "gpu-serverless-vllm-openai");
        assert.deepEqual(problemsOf(withModel({ runtime: "gpu-serverless-vllm-openai", storageUri: "gs://models-bucket/llama/v1" })), [
            'gpu-serverless:models[0].runtime: gpu-serverless-vllm-openai streams s3:// weights only; "gs://models-bucket/llama/v1" is downloaded by KServe\'s runtime (runtime: auto)',
        ]);
        assert.deepEqual(problemsOf(withModel({ runtime: "vllm" })), ['gpu-serverless:models[0].runtime: "vllm" is not one of auto, gpu-serverless-vllm-openai']);
    });

    it("storageUri accepts pinned oci:// modelcars and refuses moving ones", () => {
        assert.equal(storageUriProblem("oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/models/llama:v1"), undefined);
        assert.match(storageUriProblem("oci://registry.example.com/models/llama:latest")!, /moving tag/);
        assert.equal(parseStackConfig(withModel({ storageUri: "oci://registry.example.com/models/llama:v1.0" })).models[0].storageUri, "oci://registry.example.com/models/llama:v1.0");
    });
});
