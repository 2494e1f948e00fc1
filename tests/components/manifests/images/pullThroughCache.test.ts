import * as assert from "node:assert/strict";
import { stackImages } from "../../../../components/domain/images";
import {
    ecrImageReference,
    ecrRegistry,
    mirrorDestination,
    mirroredImages,
    pullThroughCacheRules,
} from "../../../../components/manifests/images/pullThroughCache";

const ecr = ecrRegistry("123456789012", "us-west-2");

describe("manifests/images: ECR pull-through cache and mirror", () => {
    const rules = pullThroughCacheRules(stackImages);

    it("has one rule per cacheable upstream the stack pulls from, with the upstream URLs ECR accepts", () => {
        assert.deepEqual(
            rules.map((r) => [r.ecrRepositoryPrefix, r.upstreamRegistryUrl]),
            [
                ["docker-hub", "registry-1.docker.io"],
                ["github", "ghcr.io"],
                ["kubernetes", "registry.k8s.io"],
                ["quay", "quay.io"],
            ],
        );
    });

    it("gives Docker Hub and GHCR a credential secret under ecr-pullthroughcache/, and the anonymous upstreams none", () => {
        // ECR's credentialArn pattern: ...:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+
        for (const r of rules) {
            const needs = r.upstreamRegistryUrl === "registry-1.docker.io" || r.upstreamRegistryUrl === "ghcr.io";
            assert.equal(r.credentialSecretName !== undefined, needs, r.upstreamRegistryUrl);
            if (needs) assert.match(r.credentialSecretName!, /^ecr-pullthroughcache\/[a-zA-Z0-9/_+=.@-]+$/);
        }
    });

    it("keeps every prefix within ECR's rule constraints (2-30 characters, lowercase path)", () => {
        for (const r of rules) {
            assert.ok(r.ecrRepositoryPrefix.length >= 2 && r.ecrRepositoryPrefix.length <= 30);
            assert.match(r.ecrRepositoryPrefix, /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/);
        }
    });

    it("rewrites references to <ecr>/<prefix>/<path>, keeping tag or digest, with library/ for official Docker Hub images", () => {
        assert.equal(ecrImageReference("kserve/huggingfaceserver:v0.20.0", ecr), `${ecr}/docker-hub/kserve/huggingfaceserver:v0.20.0`);
        assert.equal(ecrImageReference("busybox:1.36", ecr), `${ecr}/docker-hub/library/busybox:1.36`);
        assert.equal(ecrImageReference("docker.io/seldonio/mlserver:1.5.0", ecr), `${ecr}/docker-hub/seldonio/mlserver:1.5.0`);
        assert.equal(ecrImageReference("ghcr.io/kedacore/keda@sha256:abcd", ecr), `${ecr}/github/kedacore/keda@sha256:abcd`);
        assert.equal(ecrImageReference("registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0", ecr), `${ecr}/kubernetes/autoscaling/cluster-autoscaler:v1.35.0`);
        assert.equal(ecrImageReference(`${ecr}/activator:0.1.0`, ecr), `${ecr}/activator:0.1.0`, "already in ECR");
    });

    it("mirrors NVIDIA's images, which no pull-through rule can cache", () => {
        const mirrors = mirroredImages(stackImages);
        assert.deepEqual(
            mirrors.map((m) => m.source).sort(),
            stackImages.filter((i) => i.repository.startsWith("nvcr.io/")).map((i) => `${i.repository}:${i.tag}`).sort(),
        );
        const triton = mirrors.find((m) => m.source.startsWith("nvcr.io/nvidia/tritonserver:"))!;
        assert.equal(triton.ecrRepositoryName, "nvcr/nvidia/tritonserver");
        assert.equal(mirrorDestination(triton, ecr), `${ecr}/nvcr/nvidia/tritonserver:23.05-py3`);
    });

    it("serves every GPU-node image from ECR (cache or mirror)", () => {
        for (const image of stackImages.filter((i) => i.nodes === "gpu")) {
            assert.ok(ecrImageReference(`${image.repository}:${image.tag}`, ecr).startsWith(`${ecr}/`), image.repository);
        }
    });

    it("refuses registries it neither caches nor mirrors, and malformed account or region", () => {
        assert.throws(() => pullThroughCacheRules([{ repository: "gcr.io/x/y" }]), { message: /image gcr.io\/x\/y: registry gcr.io is neither cached nor mirrored/ });
        assert.throws(() => ecrRegistry("1234", "us-west-2"), { message: /account id "1234" is not 12 digits/ });
        assert.throws(() => ecrRegistry("123456789012", "west"), { message: /"west" is not an AWS region/ });
    });

    it("takes every region the stack config takes (the AWS catalog's), isolated partitions included", () => {
        assert.equal(ecrRegistry("123456789012", "us-iso-east-1"), "123456789012.dkr.ecr.us-iso-east-1.amazonaws.com");
        assert.throws(() => ecrRegistry("123456789012", "us-west-3"), { message: /"us-west-3" is not an AWS region; did you mean us-west-1 or us-west-2\?/ });
    });
});
