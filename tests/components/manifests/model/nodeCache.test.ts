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
        const pv = (name: string, phase: string, storageClassName = "gpu-serverless-node-cache") => ({
            metadata: { name },
            spec: { storageClassName, claimRef: { name: "old" } },
            status: { phase },
        });
        assert.deepEqual(persistentVolumesToRecycle([pv("a", "Released"), pv("b", "Bound"), pv("c", "Released", "gp3")]), ["a"]);
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
