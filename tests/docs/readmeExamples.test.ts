/**
 * What the READMEs show a user to run: the activator's minimal local config keeps its listeners on the loopback
 * interface (it has no API keys), the README's test command is what CI runs, and the activator's error table lists
 * each status and code once.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfigText } from "../../activator/src/config/load";

const root = path.resolve(__dirname, "../..");
const activatorReadme = fs.readFileSync(path.join(root, "activator/README.md"), "utf8");

describe("README examples", () => {
    it("the activator's minimal local config binds every listener to 127.0.0.1 and sets no keys", () => {
        const block = /A minimal local config[\s\S]*?```yaml\n([\s\S]*?)```/.exec(activatorReadme)?.[1];
        assert.ok(block, "the README has the minimal local config");
        const config = parseConfigText("README.md", block);
        for (const [name, listener] of Object.entries(config.listeners)) assert.equal(listener.host, "127.0.0.1", `${name} listener`);
        assert.equal(config.auth, undefined);
    });

    it("the README's test command is the one CI runs (.ci/run)", () => {
        const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
        const block = /^## Test\n\n```sh\n([\s\S]*?)```/m.exec(readme)?.[1];
        assert.equal(block, "npm test\n", "the README's Test section shows `npm test`");
        const ci = fs.readFileSync(path.join(root, ".ci/run"), "utf8").split("\n");
        assert.ok(ci.includes(block.trim()), ".ci/run runs `npm test`");
    });

    it("the activator's error table lists each status and code once", () => {
        const rows = activatorReadme.split("\n").filter((l) => /^\| \d{3} \| `/.test(l)).map((l) => l.split("|").slice(1, 3).map((c) => c.trim()).join(" "));
        assert.ok(rows.length > 5, `error table rows: ${rows.length}`);
        assert.deepEqual(rows.filter((r, i) => rows.indexOf(r) !== i), []);
    });
});
