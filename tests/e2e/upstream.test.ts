/**
 * The upstream objects the end-to-end suite installs as our Helm releases would (pure; runs in `npm test`).
 */
import * as assert from "node:assert/strict";
import { kserveWebhooks } from "./upstream";

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
