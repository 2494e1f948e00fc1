/**
 * Builds a model's readiness watcher (the interfaces are in ./types):
 *
 * - mode "probe" (local runs, tests): HTTP GET backend + readinessPath, fast while not ready (./probe).
 * - mode "kubernetes": list + watch of the Service's EndpointSlices (./kubernetes).
 */
import { ProbeReadiness } from "./probe";
import type { Readiness, ReadinessDeps, ReadinessTarget } from "./types";

export function createReadiness(mode: "probe" | "kubernetes", target: ReadinessTarget, deps: ReadinessDeps): Readiness {
  if (mode === "probe") return new ProbeReadiness(target, deps.logger);
  // Loaded on first use: @kubernetes/client-node takes ~0.5 s to load, which probe-mode runs never need.
  const { EndpointSliceReadiness } = require("./kubernetes") as typeof import("./kubernetes");
  return new EndpointSliceReadiness(target, deps.logger, deps.kubeConfig);
}
