/**
 * API-key authentication through the real activator process: 401 for anonymous or wrong keys before anything
 * about models happens (no hold, no KEDA push, no model names), the key stripped before forwarding, keys rotated
 * by rewriting the mounted Secret file, bad keys files refused at start and on reload naming the line.
 */
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import type { ClientRequest } from "node:http";
import { ActivatorProcess } from "../../testing/activator/activatorProcess";
import { TestBackend } from "../../testing/activator/backend";
import { config, model } from "../../testing/activator/config";
import { eventually, keepAliveAgent, send, sendJson, sleep, type HttpResult, type SendOptions } from "../../testing/activator/http";
import { KedaClient } from "../../testing/activator/kedaClient";

type ErrorBody = { error: { code: string; message: string } };
type Echo = { headers: Record<string, string> };
type Queue = { held: number; models: Record<string, { held: number; inFlight: number }> };

const key = () => randomBytes(32).toString("hex");
/** Computed here, not with the activator's helper: the test states the file format on its own. */
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const keysFile = (...keys: string[]) => `# accepted keys\n${keys.map((k) => `${sha256(k)}\n`).join("")}`;
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

const KEYS_PATH = "api-keys/digests";
const auth = { apiKeysFile: KEYS_PATH };

async function metric(act: ActivatorProcess, pattern: RegExp): Promise<number> {
  const match = pattern.exec((await send(`${act.adminUrl}/metrics`)).body);
  return match ? Number(match[1]) : 0;
}
const unauthorizedCount = (act: ActivatorProcess) => metric(act, /^activator_rejections_total\{model="",reason="unauthorized"\} (\S+)$/m);

function assertUnauthorized(res: HttpResult, what: string): void {
  assert.equal(res.status, 401, `${what}: ${res.body}`);
  assert.equal(res.headers["www-authenticate"], "Bearer", what);
  assert.match(String(res.headers["content-type"]), /application\/json/, what);
  const body = JSON.parse(res.body) as ErrorBody;
  assert.equal(body.error.code, "unauthorized", what);
  assert.equal(typeof body.error.message, "string", what);
}

describe("activator: API-key authentication", function () {
  this.timeout(30_000);
  const agent = keepAliveAgent();
  const KEY = key();
  after(() => agent.destroy());

  describe("with keys configured", () => {
    let act: ActivatorProcess;
    let warm: TestBackend;
    let cold: TestBackend;
    let keda: KedaClient;

    before(async () => {
      warm = await TestBackend.create();
      await warm.start();
      cold = await TestBackend.create(); // never started: its model stays at zero
      act = await ActivatorProcess.start(
        config([model("warm", warm.url), model("cold", cold.url, { hosts: ["cold.test"], openaiModels: ["cold-llm"], coldStartTimeoutSeconds: 5 })], { auth }),
        { files: { [KEYS_PATH]: keysFile(KEY) } },
      );
      keda = new KedaClient(act.scalerAddress);
    });
    after(async () => {
      keda.close();
      await act.stop();
      await Promise.all([warm.stop(), cold.stop()]);
    });

    const get = (host: string, headers: SendOptions["headers"] = {}, path = "/x") => send(`${act.proxyUrl}${path}`, { headers: { host, ...headers }, agent });
    const queue = async () => (await sendJson<Queue>(`${act.adminUrl}/queue`)).json;

    it("answers 401 with WWW-Authenticate: Bearer and a JSON error without an accepted key, counted, the backend untouched", async () => {
      const before = await unauthorizedCount(act);
      const cases: [what: string, headers: SendOptions["headers"]][] = [
        ["no Authorization header", {}],
        ["a wrong key", bearer(key())],
        ["the key one character short", bearer(KEY.slice(0, -1))],
        ["the key's digest (what the Secret holds) as the key", bearer(sha256(KEY))],
        ["the key in another scheme", { authorization: `Basic ${KEY}` }],
        ["the key without a scheme", { authorization: KEY }],
        ["an empty bearer token", { authorization: "Bearer " }],
        // Node sends an array value as repeated header lines.
        ["two Authorization headers, one of them right", { Authorization: [`Bearer ${KEY}`, `Bearer ${key()}`] }],
      ];
      for (const [what, headers] of cases) assertUnauthorized(await get("warm.test", headers), what);
      assert.equal(warm.requests, 0, "no anonymous request reached the backend");
      assert.equal(await unauthorizedCount(act), before + cases.length, "each counted as reason=unauthorized");

      // The admin port is ClusterIP-only and stays open.
      assert.equal((await send(`${act.adminUrl}/queue`)).status, 200);
      assert.equal((await send(`${act.adminUrl}/metrics`)).status, 200);
    });

    it("forwards requests with an accepted key (Bearer in any case) and never passes the Authorization header on", async () => {
      for (const authorization of [`Bearer ${KEY}`, `bearer ${KEY}`, `BEARER   ${KEY}`]) {
        const res = await sendJson<Echo>(`${act.proxyUrl}/v1/x`, { headers: { host: "warm.test", authorization, "x-client": "kept" }, agent });
        assert.equal(res.status, 200, `${authorization.split(" ")[0]}: ${res.body}`);
        assert.equal(res.json.headers["authorization"], undefined, "the client's key is not forwarded");
        assert.equal(res.json.headers["x-client"], "kept", "other headers are");
      }
    });

    it("answers an anonymous request to a cold model at once: not held, no activation pushed to KEDA", async () => {
      const stream = keda.streamIsActive("test/cold");
      try {
        assert.equal((await stream.next()).result, false, "the stream opens with false");
        const chat = (headers: SendOptions["headers"] = {}, onRequest?: (req: ClientRequest) => void) =>
          send(`${act.proxyUrl}/v1/chat/completions`, { body: JSON.stringify({ model: "cold-llm" }), headers: { "content-type": "application/json", ...headers }, agent, onRequest });

        const started = performance.now();
        assertUnauthorized(await chat(), "OpenAI request without a key");
        assertUnauthorized(await chat(bearer(key())), "OpenAI request with a wrong key");
        assertUnauthorized(await get("cold.test", bearer(key())), "host-routed request with a wrong key");
        assert.ok(performance.now() - started < 2000, "answered at once, not after a hold");
        await sleep(300); // a push would be written at once; give it time to show
        assert.deepEqual(stream.events.filter((e) => e.result), [], "no true on StreamIsActive");
        assert.equal(await keda.isActive("test/cold"), false);
        assert.equal((await keda.getMetrics("test/cold"))[0]!.metricValue, 0);
        assert.equal((await queue()).models["test/cold"]!.held, 0);

        // The same request with the key is held and wakes the model: the checks above could have failed.
        let request: ClientRequest | undefined;
        const held = chat(bearer(KEY), (req) => (request = req)).catch((err: Error) => err);
        assert.equal((await stream.nextTrue(2000)).result, true, "an authenticated request pushes activation");
        await eventually(async () => (await queue()).models["test/cold"]!.held === 1, "the authenticated request to be held");
        request!.destroy();
        assert.ok((await held) instanceof Error);
        await eventually(async () => (await queue()).models["test/cold"]!.held === 0, "the held request to be dropped");
      } finally {
        stream.cancel();
      }
    });

    it("lists models on GET /v1/models only with a key", async () => {
      const anonymous = await get("any.test", {}, "/v1/models");
      assertUnauthorized(anonymous, "GET /v1/models without a key");
      assert.doesNotMatch(anonymous.body, /cold-llm/, "no model name leaks");
      const listed = await sendJson<{ data: { id: string }[] }>(`${act.proxyUrl}/v1/models`, { headers: bearer(KEY), agent });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.json.data.map((m) => m.id), ["cold-llm"]);
    });
  });

  describe("keys files", () => {
    let act: ActivatorProcess | undefined;
    let backend: TestBackend;
    before(async () => {
      backend = await TestBackend.create();
      await backend.start();
    });
    afterEach(async () => {
      await act?.stop();
      act = undefined;
    });
    after(() => backend.stop());

    const start = (files: Record<string, string>, authConfig: { apiKeysFile: string } | null = auth) =>
      ActivatorProcess.start(config([model("a", backend.url)], authConfig ? { auth: authConfig } : {}), { files });
    const statusWith = async (k: string | null) => (await send(`${act!.proxyUrl}/x`, { headers: { host: "a.test", ...(k === null ? {} : bearer(k)) }, agent })).status;

    it("applies a rewritten keys file (Secret update, ..data swap) without a restart", async () => {
      const [oldKey, newKey] = [key(), key()];
      act = await start({ [KEYS_PATH]: keysFile(oldKey) });
      assert.deepEqual([await statusWith(oldKey), await statusWith(newKey)], [200, 401]);

      act.writeMountedFile(KEYS_PATH, keysFile(newKey));
      const reloaded = await act.waitForLog((l) => l.msg === "API keys reloaded");
      assert.equal(reloaded["keys"], 1);
      assert.deepEqual([await statusWith(newKey), await statusWith(oldKey)], [200, 401], "the new key works, the old one no longer");
      assert.equal(act.child.exitCode, null, "still the same process");
      assert.equal(act.logs.filter((l) => l.msg === "activator listening").length, 1);
    });

    it("keeps the old keys when the rewritten file is invalid, naming the file and line but not the line's content", async () => {
      const [oldKey, newKey] = [key(), key()];
      act = await start({ [KEYS_PATH]: keysFile(oldKey) });
      const leaked = `sk-${randomBytes(8).toString("hex")}`;
      act.writeMountedFile(KEYS_PATH, `${sha256(newKey)}\n${leaked}\n`);
      const refused = await act.waitForLog((l) => l.msg.startsWith("API keys change refused"));
      assert.match(refused.msg, /api-keys\/digests/);
      assert.match(refused.msg, /line 2: not a SHA-256 hex digest/);
      assert.ok(!act.output().includes(leaked), "the bad line (maybe a key) is not logged");
      assert.deepEqual([await statusWith(oldKey), await statusWith(newKey)], [200, 401], "the old keys serve on");
      assert.ok((await metric(act, /^activator_api_keys_reloads_total\{result="rejected"\} (\S+)$/m)) >= 1, "counted as rejected");
    });

    it("logs a bad keys file once however often it is swapped in, never as a config refusal, and once more when fixed", async () => {
      const [oldKey, newKey] = [key(), key()];
      act = await start({ [KEYS_PATH]: keysFile(oldKey) });
      const bad = `${sha256(newKey)}\nsk-${randomBytes(8).toString("hex")}\n`;
      for (let i = 0; i < 4; i++) {
        act.writeMountedFile(KEYS_PATH, bad); // each swap its own settled change (the watcher debounces 200 ms)
        await new Promise((resolve) => setTimeout(resolve, 350));
      }
      const refusals = act.logs.filter((l) => l.msg.startsWith("API keys change refused"));
      assert.equal(refusals.length, 1, act.output());
      assert.match(refusals[0]!.msg, /line 2: not a SHA-256 hex digest/);
      assert.equal(act.logs.filter((l) => l.msg.startsWith("config change refused")).length, 0, "the config did not change");
      assert.equal(await metric(act, /^activator_api_keys_reloads_total\{result="rejected"\} (\S+)$/m), 1, "one refusal counted");

      act.writeMountedFile(KEYS_PATH, keysFile(oldKey)); // the file in force, back
      const back = await act.waitForLog((l) => l.msg.startsWith("API keys file is back"));
      assert.match(String(back["file"]), /api-keys\/digests$/);
      await new Promise((resolve) => setTimeout(resolve, 350));
      assert.equal(act.logs.filter((l) => l.msg.startsWith("API keys")).length, 2, "one refusal line, one recovery line");
      assert.equal(await statusWith(oldKey), 200);
    });

    it("reads the keys file again with each config reload: auth turned on, keys watched after it, a bad keys file refused", async () => {
      const [first, second] = [key(), key()];
      act = await start({ [KEYS_PATH]: keysFile(first) }, null);
      assert.equal(await statusWith(null), 200, "no auth configured: open");

      const withAuth = config([model("a", backend.url)], { auth });
      act.writeConfig(withAuth);
      await act.waitForLog((l) => l.msg === "config reloaded" && l["auth"] === true);
      assert.deepEqual([await statusWith(null), await statusWith(first)], [401, 200]);

      act.writeMountedFile(KEYS_PATH, keysFile(second));
      await act.waitForLog((l) => l.msg === "API keys reloaded");
      assert.deepEqual([await statusWith(second), await statusWith(first)], [200, 401]);

      act.writeConfig(config([model("a", backend.url)], { auth: { apiKeysFile: "api-keys/missing" } }));
      const refused = await act.waitForLog((l) => l.msg.startsWith("config change refused"));
      assert.match(refused.msg, /invalid API keys file .*api-keys\/missing:\n {2}cannot read/);
      assert.deepEqual([await statusWith(second), await statusWith(null)], [200, 401], "old config and keys kept");
    });

    describe("refused at start, naming the file and the line", () => {
      const cases: [what: string, files: Record<string, string>, expected: RegExp][] = [
        ["a missing keys file", {}, /invalid API keys file \S*api-keys\/digests:\n {2}cannot read: ENOENT/],
        ["a keys file with only comments", { [KEYS_PATH]: "# nothing yet\n\n" }, /invalid API keys file \S*api-keys\/digests:\n {2}no API key digests/],
        [
          "a line that is not a digest",
          { [KEYS_PATH]: `${sha256("a")}\n# comment\n${sha256("b").slice(1)}\n` },
          /invalid API keys file \S*api-keys\/digests:\n {2}line 3: not a SHA-256 hex digest \(expected 64 hex characters, got 63 characters\)/,
        ],
      ];
      for (const [what, files, expected] of cases) {
        it(what, async () => {
          act = await ActivatorProcess.start(config([model("a", backend.url)], { auth }), { files, waitListening: false });
          assert.equal(await act.exited, 1, "exit code 1");
          assert.match(act.output(), expected);
          assert.ok(!act.logs.some((l) => l.msg === "activator listening"), "nothing was served");
        });
      }
    });
  });
});
