/**
 * The upstream objects the end-to-end suite installs as our Helm releases would (pure; runs in `npm test`).
 */
import * as assert from "node:assert/strict";
import { kserveValues } from "../../components/manifests/charts/kserve";
import { inferenceServiceConfigMap } from "../support/upstreamFacts";
import { inferenceServiceConfig, kserveWebhooks } from "./upstream";

const upstream = inferenceServiceConfigMap();

describe("e2e: inferenceservice-config with our kserve-resources values", () => {
    it("sets KServe's default deployment mode and ingress creation from our values, leaving the rest upstream's", () => {
        const values = kserveValues({ "gpu-serverless.io/node-group": "system" });
        const cm = inferenceServiceConfig(upstream, values, "kserve");
        assert.equal(JSON.parse(upstream.data.deploy).defaultDeploymentMode, "Serverless", "upstream default differs from ours");
        assert.equal(JSON.parse(cm.data.deploy).defaultDeploymentMode, "Standard");
        assert.equal(JSON.parse(cm.data.ingress).disableIngressCreation, true);
        assert.equal(cm.data.storageInitializer, upstream.data.storageInitializer);
        assert.equal(cm.metadata.namespace, "kserve");
    });

    it("refuses a value whose effect on the config it does not know", () => {
        assert.throws(() => inferenceServiceConfig(upstream, { kserve: { controller: { gateway: { domain: "x.example" } } } }, "kserve"), /kserve\.controller\.gateway\.domain: its effect/);
    });
});

describe("e2e: KServe webhooks pointed at a local manager", () => {
    it("keeps every webhook's rules and turns its service reference into a url with our CA", () => {
        const resources = [
            {
                kind: "MutatingWebhookConfiguration",
                metadata: { name: "m", annotations: { "cert-manager.io/inject-ca-from": "kserve/serving-cert" } },
                webhooks: [{ name: "w", clientConfig: { service: { name: "s", namespace: "kserve", path: "/mutate-x" } }, rules: [{ operations: ["CREATE"] }] }],
            },
            { kind: "Service", metadata: { name: "s" } },
        ];
        const [hook, ...rest] = kserveWebhooks(resources, "https://127.0.0.1:9443", Buffer.from("CA"));
        assert.equal(rest.length, 0);
        assert.deepEqual(hook.webhooks[0].clientConfig, { url: "https://127.0.0.1:9443/mutate-x", caBundle: Buffer.from("CA").toString("base64") });
        assert.deepEqual(hook.webhooks[0].rules, [{ operations: ["CREATE"] }]);
        assert.equal(hook.metadata.annotations, undefined);
    });
});
