/**
 * The model server a simulated pod runs: the routes the KServe runtimes our InferenceServices select serve, shaped like
 * them, without a model behind them.
 *
 * - `openai` (KServe huggingface runtime with the vLLM backend, `KSERVE_OPENAI_ROUTE_PREFIX=""`): `POST
 *   /v1/chat/completions` (JSON, or server-sent events with `stream: true`, ending `data: [DONE]`), `POST
 *   /v1/completions`, `GET /v1/models`, and `/metrics` with the vLLM gauges our KEDA Prometheus triggers query
 *   (`vllm:num_requests_waiting`, `vllm:num_requests_running`, `vllm:kv_cache_usage_perc`).
 * - `v2` (KServe sklearn runtime, Open Inference Protocol): `POST /v2/models/<name>/infer`, `GET
 *   /v2/models/<name>/ready`.
 * - Both: `GET /v2/health/live` and `/v2/health/ready` (the probe paths of our InferenceServices), 503 until the
 *   simulated start has passed (`startDelayMs`), forever with `neverReady` (until `becomeReady()`).
 * - Every response carries `x-e2e-pod` (the pod's name) and `x-e2e-inferenceservice` (the pod's
 *   `serving.kserve.io/inferenceservice` label, which KServe's controller put on the pod template): a client tells the
 *   versions of a canary rollout apart by what the real controllers created, not by a name the suite made up.
 * - A model request with an `x-e2e-hold-ms: <ms>` header is answered that long after it arrived (an in-flight request
 *   of a slow model, for the scale-out scenario); `served` counts it on arrival, `arrivals` records when.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeModelOptions {
    readonly kind: "openai" | "v2";
    /** OpenAI model id(s) served, or the v2 model name. */
    readonly modelNames: readonly string[];
    /** Time from start until the health routes answer 200 (the model "loads"). */
    readonly startDelayMs: number;
    /** Never becomes ready: a model that cannot start (bad weights, OOM at load...). */
    readonly neverReady?: boolean;
    /** Pod name, echoed in the `x-e2e-pod` response header so tests can tell replicas apart. */
    readonly pod: string;
    /** The pod's `serving.kserve.io/inferenceservice` label, echoed in the `x-e2e-inferenceservice` response header. */
    readonly inferenceService?: string;
}

export class FakeModel {
    private server?: http.Server;
    private readyAt = Infinity;
    /** Requests answered with a model response (not probes or metrics), counted on arrival. */
    served = 0;
    /** Date.now() at each model request's arrival, in order. */
    readonly arrivals: number[] = [];
    /** Held requests (`x-e2e-hold-ms`) not yet answered, and the most there were at once. */
    inFlight = 0;
    maxInFlight = 0;

    constructor(private readonly options: FakeModelOptions) {}

    async listen(host: string, port: number): Promise<void> {
        this.server = http.createServer((req, res) => this.handle(req, res));
        this.server.keepAliveTimeout = 60_000;
        await new Promise<void>((resolve, reject) => {
            this.server!.once("error", reject);
            this.server!.listen(port, host, () => resolve());
        });
        if (!this.options.neverReady) this.readyAt = Date.now() + this.options.startDelayMs;
    }

    get port(): number {
        return (this.server!.address() as AddressInfo).port;
    }

    /** A model that was never ready (`neverReady`) becomes ready now: the crash-looping container came up. */
    becomeReady(): void {
        this.readyAt = Date.now();
    }

    isReady(): boolean {
        return Date.now() >= this.readyAt;
    }

    async close(): Promise<void> {
        if (!this.server) return;
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            res.setHeader("x-e2e-pod", this.options.pod);
            if (this.options.inferenceService) res.setHeader("x-e2e-inferenceservice", this.options.inferenceService);
            const url = new URL(req.url ?? "/", "http://x");
            const route = `${req.method} ${url.pathname}`;
            if (url.pathname === "/v2/health/live" || url.pathname === "/v2/health/ready" || url.pathname === "/health") {
                return this.json(res, this.isReady() ? 200 : 503, this.isReady() ? {} : { error: "model is loading" });
            }
            if (route === "GET /metrics") return this.metrics(res);
            if (!this.isReady()) return this.json(res, 503, { error: "model is loading" });
            let body: any = {};
            try {
                body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
            } catch {
                return this.json(res, 400, { error: { message: "invalid JSON", type: "invalid_request_error" } });
            }
            if (this.options.kind === "openai") {
                if (route === "GET /v1/models") return this.json(res, 200, { object: "list", data: this.options.modelNames.map((id) => ({ id, object: "model" })) });
                if (route === "POST /v1/chat/completions" || route === "POST /v1/completions") return this.completion(res, body, route.endsWith("chat/completions"));
            } else {
                const name = this.options.modelNames[0];
                if (route === `GET /v2/models/${name}/ready`) return this.json(res, 200, {});
                if (route === `POST /v2/models/${name}/infer`) {
                    this.served++;
                    this.arrivals.push(Date.now());
                    const rows = body.inputs?.[0]?.shape?.[0] ?? 1;
                    const holdMs = Number(req.headers["x-e2e-hold-ms"] ?? 0);
                    const answer = () => this.json(res, 200, { model_name: name, id: body.id ?? "e2e", outputs: [{ name: "output-0", shape: [rows], datatype: "INT64", data: Array(rows).fill(1) }] });
                    if (holdMs > 0) {
                        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
                        return void setTimeout(() => (this.inFlight--, answer()), holdMs);
                    }
                    return this.json(res, 200, { model_name: name, id: body.id ?? "e2e", outputs: [{ name: "output-0", shape: [rows], datatype: "INT64", data: Array(rows).fill(1) }] });
                }
            }
            this.json(res, 404, { error: `no route ${route}` });
        });
    }

    private json(res: http.ServerResponse, status: number, body: unknown): void {
        const text = JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
    }

    private metrics(res: http.ServerResponse): void {
        const labels = `model_name="${this.options.modelNames[0]}"`;
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(
            [
                "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
                "# TYPE vllm:num_requests_waiting gauge",
                `vllm:num_requests_waiting{${labels}} 0`,
                "# HELP vllm:num_requests_running Number of requests in model execution batches.",
                "# TYPE vllm:num_requests_running gauge",
                `vllm:num_requests_running{${labels}} 0`,
                "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
                "# TYPE vllm:kv_cache_usage_perc gauge",
                `vllm:kv_cache_usage_perc{${labels}} 0`,
                "",
            ].join("\n"),
        );
    }

    private completion(res: http.ServerResponse, body: any, chat: boolean): void {
        this.served++;
        const model = String(body.model ?? this.options.modelNames[0]);
        const id = `cmpl-e2e-${this.served}`;
        const created = Math.floor(Date.now() / 1000);
        const words = ["Hello", " from", " the", " e2e", " model."];
        if (body.stream) {
            res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
            const object = chat ? "chat.completion.chunk" : "text_completion";
            const chunk = (i: number, text: string | undefined, finish: string | null) =>
                `data: ${JSON.stringify({
                    id,
                    object,
                    created,
                    model,
                    choices: [chat ? { index: 0, delta: text === undefined ? {} : i === 0 ? { role: "assistant", content: text } : { content: text }, finish_reason: finish } : { index: 0, text: text ?? "", finish_reason: finish }],
                })}\n\n`;
            let i = 0;
            const next = () => {
                if (i < words.length) {
                    res.write(chunk(i, words[i], null));
                    i++;
                    setTimeout(next, 5);
                } else {
                    res.write(chunk(i, undefined, "stop"));
                    res.end("data: [DONE]\n\n");
                }
            };
            next();
            return;
        }
        const text = words.join("");
        this.json(res, 200, {
            id,
            object: chat ? "chat.completion" : "text_completion",
            created,
            model,
            choices: [chat ? { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" } : { index: 0, text, finish_reason: "stop" }],
            usage: { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length },
        });
    }
}

/** A running fake model's address, for tests that call a pod directly. */
export function addressOf(model: FakeModel, host: string): string {
    return `http://${host}:${model.port}`;
}
