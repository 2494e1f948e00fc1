/** The Prometheus text parser the activator reads vLLM's gauges with. */
import { strict as assert } from "node:assert";
import { parsePrometheusText } from "../../../activator/src/engine/promText";
import { vllmMetricsText } from "../../../testing/activator/fakeVllm";

describe("activator engine metrics: Prometheus text parser", () => {
  const table: Array<[what: string, text: string, expected: Array<[string, Record<string, string>, number]>]> = [
    ["a bare sample", "up 1", [["up", {}, 1]]],
    ["labels, a timestamp and a float", 'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25 1700000000000', [["vllm:kv_cache_usage_perc", { engine: "0", model_name: "m" }, 0.25]]],
    ["escaped label values", 'x{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 2', [["x", { a: 'q"uote', b: "back\\slash", c: "new\nline" }, 2]]],
    ["a comma after the last label and spaces", 'x{ a="1", } 3', [["x", { a: "1" }, 3]]],
    ["comments, blank lines and CRLF", "# HELP x help\r\n# TYPE x gauge\r\n\r\nx 4\r\n", [["x", {}, 4]]],
    ["special values", "a +Inf\nb -Inf\nc 1e3", [["a", {}, Infinity], ["b", {}, -Infinity], ["c", {}, 1000]]],
    ["malformed lines skipped, the rest kept", 'bad{a=1} 2\n{x="y"} 1\nnovalue\nx{a="unterminated} 1\ngood 5\nworse abc', [["good", {}, 5]]],
  ];
  for (const [what, text, expected] of table) {
    it(`reads ${what}`, () => {
      assert.deepEqual(
        parsePrometheusText(text).map((s) => [s.name, s.labels, s.value]),
        expected,
      );
    });
  }

  it("reads NaN as NaN", () => {
    assert.ok(Number.isNaN(parsePrometheusText("x NaN")[0]!.value));
  });

  it("finds vLLM's gauges in its exposition, one sample per engine", () => {
    const samples = parsePrometheusText(vllmMetricsText({ waiting: [3, 1], kvCache: [0.5, 0.7] }));
    assert.deepEqual(samples.filter((s) => s.name === "vllm:num_requests_waiting").map((s) => [s.labels["engine"], s.value]), [["0", 3], ["1", 1]]);
    assert.deepEqual(samples.filter((s) => s.name === "vllm:kv_cache_usage_perc").map((s) => s.value), [0.5, 0.7]);
  });
});
