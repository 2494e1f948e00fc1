/**
 * The activator's manifest builders name their Services the same whichever module a program loads first. They once
 * imported each other at load time: a process that required `workload.ts` before `services.ts` saw `activatorName`
 * still undefined and named every Service `undefined-proxy`, `undefined-scaler`, ... Each order runs in a fresh
 * process, since Node caches a module after its first load.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const root = path.resolve(__dirname, "../../../..");
const dir = "./components/manifests/activator";

/** Requires `first`, then reads the names a user sees in the cluster from the builders. */
function namesAfterLoading(first: string): { pods: string; scaler: string; peersService: string } {
    const script = `
        require(${JSON.stringify(`${dir}/${first}`)});
        const services = require(${JSON.stringify(`${dir}/services`)});
        const config = require(${JSON.stringify(`${dir}/config`)});
        const stack = { shutdownGraceSeconds: 30, apiKeySecrets: [], limits: {}, namespace: "gpu-activator" };
        process.stdout.write(JSON.stringify({
            pods: services.podsServiceManifest("gpu-activator").metadata.name,
            scaler: services.scalerAddress("gpu-activator"),
            peersService: config.activatorConfig([], stack).peers.kubernetes.service,
        }));`;
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: root, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { pods: string; scaler: string; peersService: string };
}

describe("activator manifests: load order", function () {
    this.timeout(60_000);
    for (const first of ["workload", "services", "config", "networkPolicy"]) {
        it(`names the Services activator-* when ${first}.ts loads first`, () => {
            assert.deepEqual(namesAfterLoading(first), {
                pods: "activator-pods",
                scaler: "activator-scaler.gpu-activator.svc.cluster.local:9090",
                peersService: "activator-pods",
            });
        });
    }
});
