import * as assert from "node:assert/strict";
import { ourManifests, stackImages } from "../../../../components/domain/images";
import { chartImageOverrides, imageReference, pullThroughCachePullPolicy } from "../../../../components/manifests/images/chartImages";
import { mergeValues } from "../../../../components/domain/mergeValues";
import { ecrRegistry, ecrRepository } from "../../../../components/manifests/images/pullThroughCache";
import { chartDefaults } from "../../../support/chartValues";
import { upstreamRepository } from "../../domain/images.test";

const ecr = ecrRegistry("123456789012", "us-west-2");
const all = { ecr, hosts: ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io", "nvcr.io"] };

describe("manifests/images: chart values that pull from ECR", () => {
    it("makes every pinned chart render each listed image from ECR, at the chart's own tag", () => {
        for (const image of stackImages.filter((i) => i.chart !== ourManifests)) {
            const values = mergeValues(chartDefaults(image.chart), chartImageOverrides(image.chart, all));
            assert.equal(upstreamRepository(image.chart, image.valuesKey, values), ecrRepository(image.repository, ecr), `${image.chart} ${image.valuesKey}`);
        }
    });

    it("leaves the images of registries not served from ECR upstream (nvcr.io without its mirror)", () => {
        const noMirror = { ecr, hosts: ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"] };
        assert.deepEqual(chartImageOverrides("nvidia-device-plugin", noMirror), {});
        assert.deepEqual(chartImageOverrides("kserve-runtime-configs", noMirror).kserve, {
            servingruntime: Object.fromEntries(
                ["huggingfaceserver", "torchserve", "sklearnserver", "xgbserver", "lgbserver", "pmmlserver", "paddleserver", "mlserver"].map((r) => [
                    r,
                    { image: `${ecr}/docker-hub/${r === "torchserve" ? "pytorch/torchserve-kfs" : r === "mlserver" ? "seldonio/mlserver" : `kserve/${r}`}` },
                ]),
            ),
        });
    });

    it("merges into the values we set, keeping siblings", () => {
        assert.deepEqual(mergeValues({ image: { tag: "v1" }, a: [1] }, { image: { repository: "r" }, a: [2] }), { image: { tag: "v1", repository: "r" }, a: [2] });
    });

    it("rewrites our own references by registry, keeping tag or digest", () => {
        assert.equal(imageReference("registry.k8s.io/pause:3.10", all), `${ecr}/kubernetes/pause:3.10`);
        assert.equal(imageReference("kserve/huggingfaceserver:v0.20.0", all), `${ecr}/docker-hub/kserve/huggingfaceserver:v0.20.0`);
        assert.equal(imageReference("registry.k8s.io/pause:3.10", undefined), "registry.k8s.io/pause:3.10");
        assert.equal(imageReference("registry.k8s.io/pause:3.10", { ecr, hosts: ["docker.io"] }), "registry.k8s.io/pause:3.10");
    });

    it("lets nodes create and import cached repositories under the rules' prefixes only", () => {
        const policy = pullThroughCachePullPolicy("aws", "us-west-2", "123456789012", ["docker-hub", "quay"]);
        assert.deepEqual(policy.Statement[0].Resource, ["arn:aws:ecr:us-west-2:123456789012:repository/docker-hub/*", "arn:aws:ecr:us-west-2:123456789012:repository/quay/*"]);
        assert.deepEqual(policy.Statement[0].Action, ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]);
    });
});
