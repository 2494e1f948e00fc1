/** Peer discovery in Kubernetes: every endpoint of the headless Service's EndpointSlices, ready or not, through the fake API. */
import { strict as assert } from "node:assert";
import pino from "pino";
import { discoverPeers, endpointAddresses } from "../../../activator/src/peers/discovery";
import { endpointSlice, FakeKubeApi } from "../../../testing/activator/fakeKubeApi";
import { eventually } from "../../../testing/activator/http";

const logger = pino({ level: "silent" });

describe("activator peers: discovery", () => {
  it("lists every address of every slice (starting and terminating replicas included), IPv6 in brackets", () => {
    const a = endpointSlice({ namespace: "activator", service: "activator-pods", name: "a", ready: [true, false] });
    const v6 = { ...endpointSlice({ namespace: "activator", service: "activator-pods", name: "b", ready: [true] }), endpoints: [{ addresses: ["fd00::5"], conditions: { ready: false, terminating: true } }] };
    assert.deepEqual(endpointAddresses([a, v6], 9091), ["10.0.0.1:9091", "10.0.0.2:9091", "[fd00::5]:9091"]);
  });

  it("follows the headless Service's EndpointSlices in the activator's namespace", async () => {
    const api = await FakeKubeApi.start();
    const seen: string[][] = [];
    const discovery = discoverPeers(
      { kubernetes: { namespace: "activator", service: "activator-pods", port: 9091 }, heartbeatSeconds: 1, ttlSeconds: 3 },
      (addresses) => seen.push([...addresses]),
      { logger, kubeConfig: () => api.kubeConfig() },
    );
    try {
      api.apply(endpointSlice({ namespace: "activator", service: "activator-pods", name: "s1", ready: [true, true] }));
      api.apply(endpointSlice({ namespace: "activator", service: "other", name: "s2", ready: [true] }));
      await eventually(() => seen.at(-1)?.length === 2, "two peers", 3000, 5);
      assert.deepEqual(seen.at(-1), ["10.0.0.1:9091", "10.0.0.2:9091"]);
      api.apply(endpointSlice({ namespace: "activator", service: "activator-pods", name: "s1", ready: [true, true, false] }));
      await eventually(() => seen.at(-1)?.length === 3, "a starting third replica", 3000, 5);
    } finally {
      discovery.close();
      await api.stop();
    }
    assert.deepEqual(seen.at(-1), [], "closed: no peers");
  });
});
