/**
 * What a user's client does against the activator, with the timings the suite reports: when the request was sent,
 * when the response head arrived (first byte), and the body.
 */
import * as http from "node:http";

export interface Answer {
    readonly status: number;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
    /** Date.now() when the request was written. */
    readonly sentAt: number;
    /** Date.now() when the response head arrived. */
    readonly firstByteAt: number;
}

export function call(url: string, options: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
        const sentAt = Date.now();
        const req = http.request(
            url,
            {
                method: options.method ?? (payload ? "POST" : "GET"),
                headers: { ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}), ...options.headers },
                agent: false,
            },
            (res) => {
                const firstByteAt = Date.now();
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), sentAt, firstByteAt }));
                res.on("error", reject);
            },
        );
        req.setTimeout(options.timeoutMs ?? 120_000, () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 120_000} ms`)));
        req.on("error", reject);
        req.end(payload);
    });
}

/** The `data:` payloads of a server-sent events body, in order. */
export function sseData(body: string): string[] {
    return body
        .split("\n\n")
        .map((event) => event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n"))
        .filter((d) => d.length > 0);
}

/** p-th percentile (0-100) of samples, nearest rank. */
export function percentile(samples: number[], p: number): number {
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
