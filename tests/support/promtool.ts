/**
 * Prometheus' own `promtool` (Debian package `prometheus`; `.ci/run` installs it) on files written to a temp folder:
 * rules and queries are checked by the parser and evaluator Prometheus runs, not by a copy of their rules.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

export function promtoolPath(): string {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const candidate = path.join(dir, "promtool");
        if (fs.existsSync(candidate)) return candidate;
    }
    throw new Error("promtool not found: install it with `apt-get install prometheus` (.ci/run does)");
}

/** Writes `files` (name → YAML data) to a temp folder and runs `promtool <args...>` there; returns its output, or throws with it. */
export function promtool(args: string[], files: Record<string, unknown>): { ok: boolean; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promtool-"));
    try {
        for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), typeof data === "string" ? data : YAML.stringify(data));
        try {
            const output = execFileSync(promtoolPath(), args, { cwd: dir, encoding: "utf8", stdio: "pipe" });
            return { ok: true, output };
        } catch (err) {
            const e = err as { stdout?: string; stderr?: string };
            return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
