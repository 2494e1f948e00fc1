/**
 * What the rest of the repository imports from the activator: the config schema and its types (the Pulumi
 * components generate the activator's ConfigMap with them), the API keys file format (they write its Secret), the
 * routing table (to check that a generated config routes every model), and the trigger metadata key KEDA must
 * send, and the memory the limits need (the stack checks the pod's memory limit against it). Importing it starts
 * nothing.
 */
export {
  activatorConfigSchema,
  modelSchema,
  parseActivatorConfig,
  formatPath,
  limitFields,
  modelKey,
  canaryKey,
  canaryName,
  canarySchema,
  serviceNameOf,
  type ActivatorConfig,
  type ActivatorConfigInput,
  type ModelConfig,
  type ParseResult,
} from "./config/schema";
export { apiKeyDigest, apiKeyDigestsFile, parseApiKeyDigests, type ApiKeysParseResult } from "./config/apiKeys";
export { batchConfigSchema, type BatchConfig, type BatchConfigInput } from "./config/batch";
export { buildRouteTable, matchHostPath, matchKServePath, hostOf, OPENAI_BODY_PATHS, type RouteKeys, type RouteTable } from "./routing/table";
export { routeConflicts, type RouteConflict } from "./routing/conflicts";
export { MODEL_METADATA_KEY } from "./scaler/activity";
export { estimatedPeakMemoryBytes, MEMORY_MODEL, requiredMemoryBytes } from "./config/memory";
export type { ColdStartRecord } from "./readiness/coldStartRecorder";
export { queueReadsSchema, sqsQueue, QUEUE_READS_DEFAULTS, QUEUE_SCALING_DEFAULTS, type SqsQueue } from "./queue/config";
export { cachePersistentVolume, cacheVolumeName, reconcile as reconcileNodeCache, type NodeCacheAgentConfig, type PersistentVolumeView } from "./nodeCacheAgent/reconcile";
export { configEnvironmentVariable as nodeCacheAgentConfigVariable } from "./nodeCacheAgent/config";
