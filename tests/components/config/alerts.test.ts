import * as assert from "node:assert/strict";
import { parseStackConfig } from "../../../components/config/stack";
import { problemsOf, stackConfig } from "./stackFiles";

describe("stack config: alerts", () => {
    it("takes thresholds from gpu-serverless:alerts and keeps the defaults of the others", () => {
        const config = parseStackConfig(stackConfig("dev", { alerts: { heldRequests: 50, gpuMemoryUsage: 0.97, degradedFor: "15m" } }));
        assert.equal(config.alerts.heldRequests, 50);
        assert.equal(config.alerts.gpuMemoryUsage, 0.97);
        assert.equal(config.alerts.degradedFor, "15m");
        assert.equal(config.alerts.errorRatio, 0.05);
    });

    const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ heldRequests: 0 }, /^gpu-serverless:alerts\.heldRequests: 0 must be 1 or more$/m],
        [{ heldRequests: 2.5 }, /^gpu-serverless:alerts\.heldRequests: 2\.5 is not a whole number$/m],
        [{ gpuMemoryUsage: 90 }, /^gpu-serverless:alerts\.gpuMemoryUsage: 90 must be a fraction above 0 and below 1, e\.g\. 0\.9$/m],
        [{ errorRatio: 0 }, /^gpu-serverless:alerts\.errorRatio: 0 must be a fraction/],
        [{ latencyP99Seconds: -1 }, /^gpu-serverless:alerts\.latencyP99Seconds: -1 must be above 0$/m],
        [{ heldRequestsFor: "5 minutes" }, /^gpu-serverless:alerts\.heldRequestsFor: "5 minutes" is not a Prometheus duration/],
        [{ latencyP99Seconds: "slow" }, /^gpu-serverless:alerts\.latencyP99Seconds: "slow" is not a number/],
        [{ heldRequest: 20 }, /^gpu-serverless:alerts\.heldRequest: unknown key; known keys: heldRequests, heldRequestsFor, /],
    ];
    for (const [alerts, message] of bad) {
        it(`refuses ${JSON.stringify(alerts)}, naming the key`, () => {
            assert.match(problemsOf(stackConfig("dev", { alerts })).join("\n"), message);
        });
    }
});
