/**
 * `oci://` model images (KServe "modelcars"): the weights ship as an OCI image that runs as a sidecar of the
 * predictor; the model server reads them through the shared process namespace, with no download and no init
 * container. Pulled like any image, so they come through ECR and containerd's cache on the node's NVMe.
 *
 * KServe v0.20.0 supports them: `pkg/webhook/admission/pod/mutator.go` registers `InjectModelcar` when
 * `pkg/types/config.go` `ResolveOciModelMode` is non-empty, and the `inferenceservice-config` the `kserve-resources`
 * chart writes has `"ociModelMode": "modelcar"` (and `enableModelcar: true` from the chart values); the sidecar runs
 * as `uidModelcar` 1010 and passes Pod Security `baseline` (no hostPath, no privilege; `shareProcessNamespace` is allowed).
 */

// registry/path[:tag][@sha256:digest]
const OCI_URI = /^oci:\/\/([a-z0-9.-]+(?::\d+)?\/[a-z0-9._/-]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/;
const MOVING = new Set(["latest", "main", "master", "stable", "dev", "nightly"]);

/** Why `uri` is not a pinned `oci://` model image, or undefined when it is (a digest, or a tag that is not a moving name). */
export function ociStorageUriProblem(uri: string): string | undefined {
    const m = OCI_URI.exec(uri);
    if (!m) return `"${uri}" is not an OCI model image such as oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/models/llama:v1`;
    const [, repository, tag, digest] = m;
    if (digest !== undefined) return undefined;
    if (tag === undefined) return `"${uri}" is not pinned: add a version tag or @sha256 digest, e.g. oci://${repository}:v1`;
    if (MOVING.has(tag.toLowerCase())) return `"${uri}" is not pinned: "${tag}" is a moving tag; use a version or @sha256 digest`;
    return undefined;
}
