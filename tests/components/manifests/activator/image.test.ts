import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { activatorImageTag, contextTag, imageContextDir, imageContextPaths, imageDockerfile } from "../../../../components/manifests/activator/image";

describe("activator image context", () => {
    it("sends the Dockerfile every path it copies, and nothing else", () => {
        const dockerfile = fs.readFileSync(imageDockerfile, "utf8");
        // Sources of COPY lines that read the build context (not another stage).
        const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
        const allowed = imageContextPaths();
        assert.deepEqual([...new Set(copied)].sort(), [...allowed].sort());
        for (const p of allowed) assert.ok(fs.existsSync(path.join(imageContextDir, p)), `${p} exists in the context`);
    });

    it("tags by content: same files, same tag; one changed byte, a new tag", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        fs.mkdirSync(path.join(root, "src"));
        fs.writeFileSync(path.join(root, "package.json"), "{}");
        fs.writeFileSync(path.join(root, "src", "a.ts"), "export const a = 1;");
        const first = contextTag(root, ["package.json", "src"]);
        assert.match(first, /^src-[0-9a-f]{16}$/);
        assert.equal(contextTag(root, ["src", "package.json"]), first);
        fs.writeFileSync(path.join(root, "src", "a.ts"), "export const a = 2;");
        assert.notEqual(contextTag(root, ["package.json", "src"]), first);
        fs.rmSync(root, { recursive: true });
    });

    it("changes the image tag when the Dockerfile or .dockerignore changes, not only the sources", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        for (const p of [...imageContextPaths(), ".dockerignore", "activator/Dockerfile"]) {
            fs.cpSync(path.join(imageContextDir, p), path.join(root, p), { recursive: true });
        }
        const first = activatorImageTag(root);
        assert.equal(first, activatorImageTag(), "a copy of the context tags like the original");
        fs.appendFileSync(path.join(root, "activator/Dockerfile"), "\nENV X=1\n");
        const second = activatorImageTag(root);
        assert.notEqual(second, first, "Dockerfile");
        fs.appendFileSync(path.join(root, ".dockerignore"), "\n# comment\n");
        assert.notEqual(activatorImageTag(root), second, ".dockerignore");
        fs.rmSync(root, { recursive: true });
    });

    it("pins every base image by digest", () => {
        const froms = [...fs.readFileSync(imageDockerfile, "utf8").matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
        assert.ok(froms.length >= 2);
        for (const image of froms) assert.match(image, /@sha256:[0-9a-f]{64}$/, image);
    });
});
