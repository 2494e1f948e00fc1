/**
 * One evaluation of the Pulumi program (index.ts) under the test suite's mocks with N generated models, in a fresh
 * process (the program registers its resources when loaded, once per process). Prints one line:
 *   PROGRAM_JSON {"models":N,"loadMs":...,"evalMs":...,"resources":...,"byType":{...}}
 * loadMs: process start → the SDKs and components loaded; evalMs: loading index.ts → every registration settled.
 *
 *   node -r ts-node/register/transpile-only bench/lib/programChild.ts N
 */
import { requiredMemoryBytes } from "../../activator/src/config/memory";
import { activatorStackSchema, memoryBytes } from "../../components/config/models";
import { stackConfig } from "../../tests/components/config/stackFiles";
import { allResources, resetRecorded, settled, setupMocks } from "../../tests/support/mocks";

/** N models: alternately a vLLM model on one A100 (OpenAI-routed) and a CPU sklearn model (path-routed). */
export function generatedModels(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? { name: `llm-${i}`, format: "vllm", storageUri: "hf://Qwen/Qwen2.5-0.5B-Instruct:7ae557604adf67be50417f59c2c2f167def9a775", gpus: 1, cpu: "8", memory: "48Gi" }
      : { name: `cpu-${i}`, format: "sklearn", storageUri: "gs://kfserving-examples/models/sklearn/1.0/model", cpu: "1", memory: "2Gi" },
  );
}

/** The dev stack's activator, its memory raised to what the memory rule needs for N models where 768Mi is too little. */
function activatorFor(n: number): Record<string, unknown> {
  const activator = JSON.parse(stackConfig("dev")["gpu-serverless:activator"] ?? "{}") as Record<string, unknown>;
  const limits = activatorStackSchema.parse(activator).limits;
  const needMi = Math.ceil(requiredMemoryBytes(limits, n) / 2 ** 20);
  return needMi > memoryBytes(String(activator["memory"] ?? "768Mi")) / 2 ** 20 ? { ...activator, memory: `${needMi}Mi` } : activator;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`usage: programChild.ts N (got ${process.argv[2]})`);
  setupMocks({ project: "gpu-serverless", stack: "dev", config: stackConfig("dev", { models: generatedModels(n), activator: activatorFor(n) }) });
  resetRecorded();
  require("../../components"); // the SDKs and our components, so evalMs is the program's own work
  const loadedAt = performance.now();
  require("../../index");
  await settled();
  const evalMs = performance.now() - loadedAt;
  const byType: Record<string, number> = {};
  const resources = allResources();
  for (const r of resources) byType[r.type] = (byType[r.type] ?? 0) + 1;
  process.stdout.write(`PROGRAM_JSON ${JSON.stringify({ models: n, loadMs: loadedAt, evalMs, resources: resources.length, byType })}\n`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
