import * as assert from "node:assert/strict";
import { ourManifests, registryHost, stackImages, upstreamRegistries } from "../../../components/domain/images";
import { pauseImage } from "../../../components/manifests/warm/warmCapacity";
import { servingRuntimes } from "../../../components/manifests/model/runtime";
import { chartDefaults } from "../../support/chartValues";
import { clusterServingRuntimes } from "../../support/servingRuntimes";

function at(values: Record<string, unknown>, key: string): unknown {
    return key.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], values);
}

/** The repository the chart renders for an image's values key (its defaults, or `values`), with the registry containerd resolves. */
export function upstreamRepository(chart: string, valuesKey: string, values: Record<string, unknown> = chartDefaults(chart)): string {
    if (chart === "cert-manager") return `${values.imageRegistry}/${values.imageNamespace}/${at(values, "image.name")}`;
    const repository = String(at(values, valuesKey));
    const registry = at(values, valuesKey.replace(/repository$/, "registry"));
    const full = typeof registry === "string" && valuesKey.endsWith("repository") ? `${registry}/${repository}` : repository;
    return registryHost(full) === "docker.io" && !full.startsWith("docker.io/") ? `docker.io/${full}` : full;
}

describe("domain/images: every image the stack pulls", () => {
    it("names each image as its pinned chart's default values render it", () => {
        for (const image of stackImages.filter((i) => i.chart !== ourManifests)) {
            assert.equal(image.repository, upstreamRepository(image.chart, image.valuesKey), `${image.chart} ${image.valuesKey}`);
            const registry = at(chartDefaults(image.chart), image.valuesKey.replace(/repository$/, "registry"));
            // A chart that splits registry and repository must say so (registryKey), or a rewrite would miss it.
            if (image.valuesKey.endsWith("repository")) assert.equal(image.registryKey !== undefined, typeof registry === "string", `${image.chart} ${image.valuesKey}`);
        }
    });

    it("lists the pause image the warm-capacity balloon pods run", () => {
        const [repository, tag] = pauseImage.split(/:(?=[^/:]+$)/);
        assert.ok(stackImages.some((i) => i.chart === ourManifests && i.repository === repository && i.tag === tag), pauseImage);
    });

    it("lists the image of every ClusterServingRuntime a deployed model format selects", () => {
        const listed = new Set(stackImages.map((i) => i.repository));
        const runtimes = clusterServingRuntimes();
        for (const choice of Object.values(servingRuntimes)) {
            const runtime = runtimes.find((r) => r.metadata.name === choice.runtime);
            assert.ok(runtime, choice.runtime);
            const image = String(runtime.spec.containers[0].image).replace(/:[^/:]+$/, "");
            const repository = registryHost(image) === "docker.io" && !image.startsWith("docker.io/") ? `docker.io/${image}` : image;
            assert.ok(listed.has(repository), `${choice.runtime}: ${repository} is not in stackImages`);
        }
    });

    it("knows the registry of every listed image", () => {
        for (const image of stackImages) assert.ok(registryHost(image.repository) in upstreamRegistries, image.repository);
    });

    it("resolves registries as containerd does", () => {
        assert.equal(registryHost("kserve/huggingfaceserver"), "docker.io");
        assert.equal(registryHost("busybox"), "docker.io");
        assert.equal(registryHost("nvcr.io/nvidia/tritonserver"), "nvcr.io");
        assert.equal(registryHost("localhost:5000/x"), "localhost:5000");
    });
});
