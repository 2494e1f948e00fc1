/**
 * Stickiness by API key through the real activator process with `auth`: every request of one client (one key) lands
 * on one version; the clients split about evenly at 50 %; the key never reaches a
 * backend.
 */
import { strict as assert } from "node:assert";
import { apiKeyDigestsFile } from "../../../activator/src/index";
import { ActivatorProcess } from "../../../testing/activator/activatorProcess";
import { TestBackend } from "../../../testing/activator/backend";
import { config, model } from "../../../testing/activator/config";
import { send } from "../../../testing/activator/http";

const KEYS = Array.from({ length: 40 }, (_, i) => `sk-canary-test-${i}-0123456789abcdef`);

describe("activator: canary stickiness by API key", function () {
  this.timeout(30_000);
  let act: ActivatorProcess;
  let stable: TestBackend;
  let canary: TestBackend;

  before(async () => {
    [stable, canary] = await Promise.all([TestBackend.create(), TestBackend.create()]);
    await Promise.all([stable.start(), canary.start()]);
    act = await ActivatorProcess.start(
      config([model("m", stable.url, { canary: { backend: canary.url, trafficPercent: 50 } })], { auth: { apiKeysFile: "keys/digests" } }),
      { files: { "keys/digests": apiKeyDigestsFile(KEYS) } },
    );
  });
  after(async () => {
    await act.stop();
    await Promise.all([stable.stop(), canary.stop()]);
  });

  it("keeps each client on one version; 40 clients split within 5 σ of 50 %", async () => {
    const versionOf = new Map<string, number>();
    for (let round = 0; round < 3; round++) {
      for (const key of KEYS) {
        const res = await send(`${act.proxyUrl}/predict`, { headers: { host: "m.test", authorization: `Bearer ${key}` } });
        assert.equal(res.status, 200);
        const echoed = JSON.parse(res.body) as { port: number; headers: Record<string, string> };
        assert.equal(echoed.headers["authorization"], undefined, "the key is not forwarded");
        const seen = versionOf.get(key);
        if (seen === undefined) versionOf.set(key, echoed.port);
        else assert.equal(echoed.port, seen, `client ${key} moved between versions`);
      }
    }
    const onCanary = [...versionOf.values()].filter((p) => p === canary.port).length;
    assert.ok(Math.abs(onCanary - 20) <= 5 * Math.sqrt(10), `${onCanary} of 40 clients on the canary`);
  });
});
