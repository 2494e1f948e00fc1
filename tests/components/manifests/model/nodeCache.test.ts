import * as assert from "node:assert/strict";
import {
    baselineVolumeViolations,
    hfCachedModelArgs,
    nodeCacheEnv,
    nodeCachePersistentVolume,
    nodeCacheStorageClass,
    nodeCacheVolume,
    persistentVolumesToRecycle,
} from "../../../../components/manifests/model/nodeCache";
import { vllmRuntimeManifest } from "../../../../components/manifests/model/vllmRuntime";
import { inferenceServiceManifest } from "../../../../components/manifests/model/inferenceService";
import { usesNodeCache } from "../../../../components/config/nodeCache";
import { crdErrors } from "../../../support/crds";
import { a100Scheduling, llmModel, qwenUri, stackWith } from "./fixtures";

describe("manifests/model: node-local cache on the NVMe", () => {
    it("gives the model pod no hostPath, only a generic ephemeral volume of the cache StorageClass", () => {
        const pod = { volumes: [nodeCacheVolume()] };
        assert.deepEqual(baselineVolumeViolations(pod), []);
        assert.equal(pod.volumes[0].ephemeral.volumeClaimTemplate.spec.storageClassName, nodeCacheStorageClass().metadata.name);
        assert.deepEqual(baselineVolumeViolations({ volumes: [{ name: "x", hostPath: { path: "/" } }] }), ["x"], "the check catches a hostPath");
    });

    it("binds where the pod lands and keeps the bytes when the pod goes", () => {
        const sc = nodeCacheStorageClass();
        assert.equal(sc.volumeBindingMode, "WaitForFirstConsumer");
        const pv = nodeCachePersistentVolume("ip-10-0-1-2.ec2.internal", 3);
        assert.equal(pv.spec.persistentVolumeReclaimPolicy, "Retain");
        assert.equal(pv.spec.storageClassName, sc.metadata.name);
        assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values, ["ip-10-0-1-2.ec2.internal"]);
        assert.match(pv.spec.local.path, /^\/mnt\/k8s-disks\/0\//, "on the RAID0 instance-store array");
    });

    it("recycles only Released cache PVs", () => {
        const pv = (name: string, phase: string, storageClassName = "gpu-serverless-node-cache", labels: Record<string, string> = { "gpu-serverless/node-cache": "true" }) => ({
            metadata: { name, labels },
            spec: { storageClassName, claimRef: { name: "old" } },
            status: { phase },
        });
        assert.deepEqual(persistentVolumesToRecycle([pv("a", "Released"), pv("b", "Bound"), pv("c", "Released", "gp3"), pv("d", "Released", undefined, {})]), ["a"]);
    });

    it("points Hugging Face and vLLM's compile caches at it", () => {
        const env = Object.fromEntries(nodeCacheEnv().map((e) => [e.name, e.value]));
        for (const name of ["HF_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "XDG_CACHE_HOME", "VLLM_CACHE_ROOT"]) assert.match(env[name], /^\/cache\//, name);
        const runtime = vllmRuntimeManifest({ env: nodeCacheEnv() });
        assert.deepEqual(runtime.spec.containers[0].env, nodeCacheEnv());
    });

    it("downloads hf:// models by id and revision into HF_HOME instead of through the storage initializer", () => {
        const sha = "0123456789abcdef0123456789abcdef01234567";
        assert.deepEqual(hfCachedModelArgs(`hf://Qwen/Qwen2.5-7B-Instruct:${sha}`), ["--model_id=Qwen/Qwen2.5-7B-Instruct", `--model_revision=${sha}`]);
        assert.throws(() => hfCachedModelArgs("hf://Qwen/Qwen2.5-7B-Instruct:main"), { message: /node cache: "hf:\/\/Qwen\/Qwen2.5-7B-Instruct:main" is not hf:\/\/<org>\/<model>:<40-hex commit>/ });
    });
});

describe("manifests/model: an hf:// LLM's pod with the node cache", () => {
    const [qwen] = stackWith([llmModel]).models;
    const plain = inferenceServiceManifest(qwen, { serviceAccountName: "qwen-model", gpuScheduling: a100Scheduling });
    const cached = inferenceServiceManifest(qwen, { serviceAccountName: "qwen-model", gpuScheduling: a100Scheduling, nodeCache: true });
    const predictor = cached.spec.predictor as any;

    it("is a valid InferenceService (KServe v0.20.0 CRD) with no hostPath", () => {
        assert.deepEqual(crdErrors(cached), []);
        assert.deepEqual(baselineVolumeViolations(predictor), []);
    });

    it("downloads by id and revision into the cache instead of through the storage initializer", () => {
        assert.equal(predictor.model.storageUri, undefined, "no storageUri: KServe injects no storage initializer");
        assert.equal((plain.spec.predictor as any).model.storageUri, qwenUri);
        assert.deepEqual(predictor.model.args.filter((a: string) => /^--model_(id|revision)=/.test(a)), hfCachedModelArgs(qwenUri));
        const env = Object.fromEntries(predictor.model.env.map((e: any) => [e.name, e.value]));
        for (const e of nodeCacheEnv()) assert.equal(env[e.name], e.value, e.name);
        assert.equal(env.KSERVE_OPENAI_ROUTE_PREFIX, "", "still serves /v1 unprefixed");
    });

    it("mounts the ephemeral cache volume beside /dev/shm, group-owned by the model user", () => {
        assert.deepEqual(predictor.volumes.map((v: any) => v.name), ["dshm", "node-cache"]);
        assert.deepEqual(predictor.volumes[1], nodeCacheVolume());
        assert.deepEqual(predictor.model.volumeMounts, [{ name: "dshm", mountPath: "/dev/shm" }, { name: "node-cache", mountPath: "/cache" }]);
        assert.deepEqual(predictor.securityContext, { fsGroup: 1000, fsGroupChangePolicy: "OnRootMismatch" });
    });

    it("gives the startup probe the download too (the server downloads before it answers)", () => {
        const seconds = (isvc: any) => isvc.spec.predictor.model.startupProbe.failureThreshold * isvc.spec.predictor.model.startupProbe.periodSeconds;
        assert.equal(seconds(plain), qwen.coldStart.startupSeconds);
        assert.equal(seconds(cached), qwen.coldStart.startupSeconds + qwen.coldStart.downloadSeconds);
    });

    it("is only for hf:// LLMs on GPUs with KServe's runtime, on a cached pool", () => {
        assert.equal(usesNodeCache(qwen, "a100", ["a100"]), true);
        assert.equal(usesNodeCache(qwen, "a100", []), false, "pool without the cache");
        assert.equal(usesNodeCache({ ...qwen, storageUri: "s3://b/m/v1" }, "a100", ["a100"]), false);
        assert.equal(usesNodeCache({ ...qwen, format: "triton" }, "a100", ["a100"]), false);
        assert.throws(() => inferenceServiceManifest({ ...qwen, storageUri: "s3://b/m/v1" }, { serviceAccountName: "q", gpuScheduling: a100Scheduling, nodeCache: true }), {
            message: "model qwen: the node cache is for hf:// LLMs on GPUs with KServe's runtime",
        });
    });
});
