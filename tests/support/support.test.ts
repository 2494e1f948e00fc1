import * as assert from "node:assert/strict";
import { crdErrors, isCustomKind } from "./crds";
import { chartSchemaErrors, unknownValuePaths } from "./chartValues";

// The checks every component test leans on must be able to fail, or they prove nothing.
describe("test support: upstream schema checks", () => {
    const scaledObject = {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: "m", namespace: "models" },
        spec: { scaleTargetRef: { name: "m-predictor" }, triggers: [{ type: "external-push", metadata: { scalerAddress: "a:9090" } }] },
    };

    it("accepts a valid ScaledObject", () => {
        assert.deepEqual(crdErrors(scaledObject), []);
    });

    const broken: Array<[string, object, RegExp]> = [
        ["misspelt field", { ...scaledObject, spec: { ...scaledObject.spec, minReplicas: 0 } }, /additional/],
        ["wrong type", { ...scaledObject, spec: { ...scaledObject.spec, maxReplicaCount: "3" } }, /integer/],
        ["missing required", { ...scaledObject, spec: { triggers: [] } }, /scaleTargetRef/],
    ];
    for (const [what, object, message] of broken) {
        it(`rejects a ScaledObject with a ${what}`, () => {
            assert.match(crdErrors(object as any).join("\n"), message);
        });
    }

    it("knows CRD kinds from every upstream group and nothing built in", () => {
        for (const k of ["serving.kserve.io/v1beta1/InferenceService", "monitoring.coreos.com/v1/ServiceMonitor", "keda.sh/v1alpha1/ScaledObject"]) {
            const [group, version, kind] = k.split("/");
            assert.ok(isCustomKind(`${group}/${version}`, kind), k);
        }
        assert.equal(isCustomKind("apps/v1", "Deployment"), false);
    });

    it("flags Helm value keys the chart does not declare, and accepts free-form maps", () => {
        assert.deepEqual(unknownValuePaths("keda", { operator: { replicaCount: 1, replicas: 2 }, nodeSelector: { a: "b" } }), [
            "operator.replicas",
        ]);
    });

    it("validates against a chart's values.schema.json where it ships one", () => {
        assert.deepEqual(chartSchemaErrors("cert-manager", { crds: { enabled: true } }), []);
        assert.notDeepEqual(chartSchemaErrors("cert-manager", { crds: { enabled: "yes" } }), []);
    });
});
