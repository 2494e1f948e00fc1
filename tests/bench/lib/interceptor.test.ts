/**
 * The interceptor's build recipe (the generated go.mod) and the stand-in API it reads, checked with a real
 * Kubernetes client (@kubernetes/client-node's informer: list, then watch from the list's resourceVersion).
 * Whether the interceptor itself routes through them is checked by the bench smoke test when it is built.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CoreV1Api, KubeConfig, makeInformer, type V1Service } from "@kubernetes/client-node";
import { buildModule, INTERCEPTOR_MODULE, INTERCEPTOR_VERSION, routeObjects } from "../../../bench/lib/interceptor";
import { FakeListWatchApi, SERVICES } from "../../../bench/lib/listWatchApi";

describe("bench: KEDA HTTP interceptor build", () => {
  const upstream = [
    "module github.com/kedacore/http-add-on",
    "",
    "go 1.25.6",
    "",
    "tool (",
    "\tsigs.k8s.io/controller-tools/cmd/controller-gen",
    ")",
    "",
    "tool golang.org/x/tools/cmd/stringer",
    "",
    "require (",
    "\tk8s.io/api v0.34.9",
    ")",
    "",
    "replace github.com/example/a => github.com/example/b v1.2.3",
  ].join("\n");

  it("keeps upstream's go directive, requirements and replaces, drops tools, requires the pinned release", () => {
    const mod = buildModule(upstream);
    assert.match(mod, /^module gpu-serverless\.local\/keda-http-interceptor-build$/m);
    assert.doesNotMatch(mod, /^module github\.com\/kedacore/m);
    assert.match(mod, /^go 1\.25\.6$/m);
    assert.match(mod, /^\tk8s\.io\/api v0\.34\.9$/m);
    assert.match(mod, /^replace github\.com\/example\/a => github\.com\/example\/b v1\.2\.3$/m);
    assert.doesNotMatch(mod, /controller-gen|stringer|^tool/m);
    assert.match(mod, new RegExp(`^require ${INTERCEPTOR_MODULE} ${INTERCEPTOR_VERSION}$`, "m"));
  });

  it("refuses a replace by local path, which cannot be built outside upstream's tree", () => {
    assert.throws(() => buildModule(`${upstream}\nreplace github.com/x/y => ../y\n`), /replaces by a local path .*\.\.\/y/);
  });
});

describe("bench: stand-in list/watch API, read by a real Kubernetes client", () => {
  let api: FakeListWatchApi;
  let dir: string;
  beforeEach(async () => {
    api = await FakeListWatchApi.start([SERVICES]);
    dir = mkdtempSync(path.join(tmpdir(), "listwatch-"));
  });
  afterEach(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves its kubeconfig, a cluster-wide list, and a watch that delivers later changes", async () => {
    const [, service] = routeObjects("fast.bench", 8080);
    api.apply(service!);
    const kc = new KubeConfig();
    kc.loadFromFile(api.writeKubeconfig(dir));
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1Service>(kc, "/api/v1/services", () => core.listServiceForAllNamespaces());
    const seen: string[] = [];
    const added = new Promise<void>((resolve, reject) => {
      informer.on("error", reject);
      informer.on("add", (s) => {
        seen.push(`${s.metadata!.namespace}/${s.metadata!.name}`);
        if (seen.length === 2) resolve();
      });
    });
    await informer.start();
    api.apply({ ...service!, metadata: { ...service!.metadata, name: "second" } });
    await added;
    await informer.stop();
    assert.deepEqual(seen, ["bench/fast", "bench/second"]);
    assert.equal(api.requests["LIST /api/v1/services"], 1);
    assert.ok(api.requests["WATCH /api/v1/services"]! >= 1);
  });

  it("answers discovery as a real server's legacy documents, and 404 Status for what it does not serve", async () => {
    const get = async (p: string) => {
      const res = await fetch(`${api.url}${p}`);
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    assert.deepEqual((await get("/api")).body.versions, ["v1"]);
    const v1 = await get("/api/v1");
    assert.deepEqual(v1.body.resources.map((r: { name: string; namespaced: boolean }) => [r.name, r.namespaced]), [["services", true]]);
    const missing = await get("/apis/apps/v1/deployments");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.kind, "Status");
  });
});
