/**
 * `npm run coldstarts -- --url http://127.0.0.1:9091 [--model <namespace>/<name>]`
 * `kubectl -n activator exec activator-0 -- node -e "…" | npm run coldstarts -- [--model …]`   (JSON of /queue on stdin)
 *
 * Prints the phase timeline of the last cold starts each activator replica saw (and the one in progress), read from
 * its admin endpoint `/queue` (docs/cold-start-timeline.md). Exit 1 with a one-line reason when /queue cannot be read.
 */
import { parseArgs } from "node:util";
import { formatColdStarts } from "./coldstarts/format";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { url: { type: "string" }, model: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (values.help) {
        process.stdout.write("usage: npm run coldstarts -- [--url http://<activator admin address>] [--model <namespace>/<name>]   (no --url: /queue JSON on stdin)\n");
        return;
    }
    let text: string;
    if (values.url) {
        const url = `${values.url.replace(/\/+$/, "")}/queue`;
        const res = await fetch(url).catch((err: Error) => {
            throw new Error(`cannot read ${url}: ${err.message} (is the admin port forwarded? see docs/cold-start-timeline.md)`);
        });
        if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
        text = await res.text();
    } else {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        text = Buffer.concat(chunks).toString("utf8");
    }
    let queue: unknown;
    try {
        queue = JSON.parse(text);
    } catch {
        throw new Error(`the /queue answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
    process.stdout.write(formatColdStarts(queue, values.model));
}

main().catch((err: Error) => {
    process.stderr.write(`coldstarts: ${err.message}\n`);
    process.exit(1);
});
