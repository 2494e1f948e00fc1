/** The program's components and the config loader, for `index.ts` and for programs that reuse them. */
export { Activator, type ActivatorArgs } from "./activator";
export { ClusterAutoscaler, type ClusterAutoscalerArgs } from "./autoscaler";
export { GpuCluster, type GpuClusterArgs } from "./cluster";
export { loadStackConfig, parseStackConfig, type StackConfig, StackConfigError } from "./config/stack";
export { GpuSupport, type GpuSupportArgs } from "./gpuSupport";
export { Keda, type KedaArgs } from "./keda";
export { KServe, type KServeArgs } from "./kserve";
export { Monitoring, type MonitoringArgs } from "./monitoring";
export { Network, type NetworkArgs } from "./network";
export { type GpuScheduling, ServerlessGpuPlatform, type ServerlessGpuPlatformArgs } from "./platform";
export { ServerlessModel, type ServerlessModelArgs } from "./serverlessModel";
