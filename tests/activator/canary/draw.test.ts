/**
 * The canary draw on its own (activator/src/holding/canary.ts): the random split within a binomial bound of the
 * weight with a seeded RNG, the sticky split by key, and what raising the weight does to keys already on the canary.
 */
import { strict as assert } from "node:assert";
import { drawsCanary, stickyKey, stickyPoint } from "../../../activator/src/holding/canary";

/** mulberry32: a small seeded PRNG, [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** |count − n·p| ≤ z·√(n·p·(1−p)): a binomial count within z standard deviations of its mean. */
function assertBinomial(count: number, n: number, p: number, what: string, z = 4): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - n * p) <= z * sd, `${what}: ${count} of ${n}, expected ${n * p} ± ${(z * sd).toFixed(1)} (${z} σ)`);
}

describe("activator: canary draw", () => {
  for (const percent of [1, 10, 25, 50, 90]) {
    it(`draws ${percent} % at random within 4 σ of the binomial mean (seeded RNG, 20 000 draws)`, () => {
      const random = seeded(percent);
      const n = 20_000;
      let canary = 0;
      for (let i = 0; i < n; i++) if (drawsCanary(percent, "models/qwen", null, random)) canary++;
      assertBinomial(canary, n, percent / 100, `${percent} %`);
    });
  }

  it("0 % never and 100 % always draw the canary, whatever the key or the RNG says", () => {
    for (const key of [null, "a", "b"]) {
      assert.equal(drawsCanary(0, "m/x", key, () => 0), false);
      assert.equal(drawsCanary(100, "m/x", key, () => 0.999999), true);
    }
  });

  it("a sticky key always lands on the same version; 5 000 keys split within 4 σ of the weight", () => {
    const random = () => {
      throw new Error("a sticky draw must not use the RNG");
    };
    const n = 5_000;
    let canary = 0;
    for (let i = 0; i < n; i++) {
      const key = `session-${i}`;
      const first = drawsCanary(20, "models/qwen", key, random);
      for (let again = 0; again < 3; again++) assert.equal(drawsCanary(20, "models/qwen", key, random), first, key);
      if (first) canary++;
    }
    assertBinomial(canary, n, 0.2, "sticky 20 %");
  });

  it("raising the weight only moves keys from stable to canary (a conversation on the canary stays there)", () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${i}`);
    const at = (percent: number) => new Set(keys.filter((k) => drawsCanary(percent, "models/qwen", k, Math.random)));
    const small = at(10);
    const large = at(40);
    for (const k of small) assert.ok(large.has(k), `${k} was on the canary at 10 % but not at 40 %`);
    assert.ok(large.size > small.size);
  });

  it("the same key splits independently for two models (the model key salts the hash)", () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${i}`);
    const both = keys.filter((k) => stickyPoint("m/a", k) < 0.5 && stickyPoint("m/b", k) < 0.5).length;
    assertBinomial(both, keys.length, 0.25, "keys on the canary of both 50 % models");
  });

  it("the sticky key: the API key digest, the session header's value, or none", () => {
    const req = { headers: { "x-session-id": "s-1", "x-conv": ["c-1", "c-2"] } } as never;
    const x = { apiKeyDigest: "abc", req };
    assert.equal(stickyKey({ by: "api-key", header: "x-session-id" }, x), "abc");
    assert.equal(stickyKey({ by: "api-key", header: "x-session-id" }, { ...x, apiKeyDigest: null }), null);
    assert.equal(stickyKey({ by: "header", header: "x-session-id" }, x), "s-1");
    assert.equal(stickyKey({ by: "header", header: "x-conv" }, x), "c-1");
    assert.equal(stickyKey({ by: "header", header: "x-other" }, x), null);
    assert.equal(stickyKey({ by: "none", header: "x-session-id" }, x), null);
  });
});
