/** The program's components and the config loader, for `index.ts` and for programs that reuse them. */
export { Activator, type ActivatorArgs } from "./resources/activator";
export { ClusterAutoscaler, type ClusterAutoscalerArgs } from "./resources/autoscaler";
export { GpuCluster, type GpuClusterArgs } from "./resources/cluster";
export { loadStackConfig, parseStackConfig, type StackConfig, StackConfigError } from "./config/stack";
export { GpuSupport, type GpuSupportArgs } from "./resources/gpuSupport";
export { Keda, type KedaArgs } from "./resources/keda";
export { KServe, type KServeArgs } from "./resources/kserve";
export { Monitoring, type MonitoringArgs } from "./resources/monitoring";
export { Network, type NetworkArgs } from "./resources/network";
export { type GpuScheduling, ServerlessGpuPlatform, type ServerlessGpuPlatformArgs } from "./resources/platform";
export { ServerlessModel, type ServerlessModelArgs } from "./resources/serverlessModel";
