/**
 * Loads KEDA's external scaler protocol (activator/proto/externalscaler.proto) once, with the options the
 * server and the test client share, and types its messages. Field names are kept as in the proto
 * (camelCase there already); int64 fields travel as JS numbers (counts, far below 2^53); `defaults: true`
 * so a decoded `IsActiveResponse` carries `result: false` instead of omitting it.
 */
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** activator/proto/externalscaler.proto, from activator/src/scaler (ts-node) and activator/dist/scaler alike. */
export const EXTERNAL_SCALER_PROTO = path.join(__dirname, "../../proto/externalscaler.proto");

const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export interface ScaledObjectRef {
  name: string;
  namespace: string;
  /** The trigger's metadata; the activator reads `model`. */
  scalerMetadata: Record<string, string>;
}
export interface IsActiveResponse {
  result: boolean;
}
export interface MetricSpec {
  metricName: string;
  targetSize: number;
  targetSizeFloat: number;
}
export interface GetMetricSpecResponse {
  metricSpecs: MetricSpec[];
}
export interface GetMetricsRequest {
  scaledObjectRef: ScaledObjectRef | null;
  metricName: string;
}
export interface MetricValue {
  metricName: string;
  metricValue: number;
  metricValueFloat: number;
}
export interface GetMetricsResponse {
  metricValues: MetricValue[];
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated `externalscaler.ExternalScaler` client constructor; `.service` is the server-side definition. */
export function externalScalerService(): grpc.ServiceClientConstructor {
  if (!cached) {
    const definition = protoLoader.loadSync(EXTERNAL_SCALER_PROTO, LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition).externalscaler as grpc.GrpcObject;
    cached = pkg.ExternalScaler as grpc.ServiceClientConstructor;
  }
  return cached;
}
