/**
 * tests/upstream-facts/ against its source: regenerated from `../shared/upstream` when that is beside the repository
 * (skipped, saying so, in a plain clone), and the generator's rules on small inputs.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateFacts, parseSources, stripDescriptions } from "../../scripts/upstream/facts";
import { factsDir, staleFacts } from "../../scripts/upstream/generate";
import { chartNamesWithFacts, chartSchemaErrors, chartSources } from "./chartValues";
import { crdSource, knownCustomKinds } from "./crds";
import { factFiles, readFacts, sharedUpstreamDir } from "./upstreamFacts";

describe("upstream facts (tests/upstream-facts)", () => {
    it("are what npm run upstream:generate makes from ../shared/upstream now", function () {
        const upstream = sharedUpstreamDir();
        if (!upstream) {
            console.log("      skipped: ../shared/upstream is not beside this clone, so the carried facts cannot be compared with their source");
            return this.skip();
        }
        this.timeout(120_000);
        assert.deepEqual(staleFacts(generateFacts(upstream)), [], "out of date: run npm run upstream:generate");
    });

    it("hold every CRD and chart the tests validate against, Karpenter's and the node monitoring agent's included", () => {
        assert.deepEqual(knownCustomKinds().sort(), [
            "karpenter.k8s.aws/v1/EC2NodeClass",
            "karpenter.sh/v1/NodeClaim",
            "karpenter.sh/v1/NodePool",
            "keda.sh/v1alpha1/ClusterTriggerAuthentication",
            "keda.sh/v1alpha1/ScaledJob",
            "keda.sh/v1alpha1/ScaledObject",
            "keda.sh/v1alpha1/TriggerAuthentication",
            "monitoring.coreos.com/v1/PodMonitor",
            "monitoring.coreos.com/v1/PrometheusRule",
            "monitoring.coreos.com/v1/ServiceMonitor",
            "serving.kserve.io/v1alpha1/ClusterServingRuntime",
            "serving.kserve.io/v1alpha1/ClusterStorageContainer",
            "serving.kserve.io/v1alpha1/ServingRuntime",
            "serving.kserve.io/v1beta1/InferenceService",
        ]);
        for (const chart of ["karpenter", "eks-node-monitoring-agent", "kube-state-metrics"]) assert.ok(chartNamesWithFacts().includes(chart), chart);
        // The add-on's configurationValues schema is enforced.
        assert.deepEqual(chartSchemaErrors("eks-node-monitoring-agent", { nodeAgent: { tolerations: "all" } }), ["/nodeAgent/tolerations: must be array"]);
        assert.deepEqual(chartSchemaErrors("eks-node-monitoring-agent", { dcgmAgent: { tolerations: [{ operator: "Exists" }] } }), []);
    });

    it("name the repository, path, tag and commit of every file they come from", () => {
        assert.deepEqual(crdSource("karpenter.sh/v1", "NodePool"), {
            file: "crds/karpenter-nodepools.yaml",
            repository: "aws/karpenter-provider-aws",
            path: "pkg/apis/crds/karpenter.sh_nodepools.yaml",
            tag: "v1.14.1",
            commit: "bde00654cd31",
            release: "Karpenter v1.14.1",
        });
        assert.deepEqual(chartSources("eks-node-monitoring-agent").map((s) => s.path), [
            "charts/eks-node-monitoring-agent/Chart.yaml",
            "charts/eks-node-monitoring-agent/values.yaml",
            "charts/configuration.schema.json",
        ]);
        for (const folder of ["crds", "charts", "manifests"] as const) {
            for (const file of factFiles(folder)) {
                const { sources } = readFacts(`${folder}/${file}`);
                assert.ok(sources.length > 0, file);
                for (const s of sources) assert.match(`${s.repository} ${s.tag} ${s.commit}`, /^[\w.-]+\/[\w.-]+ \S+ [0-9a-f]{7,40}$/, `${folder}/${file}`);
            }
        }
    });

    it("carry no upstream prose: no description in any schema, no commented example", () => {
        for (const folder of ["crds", "charts", "manifests"] as const) {
            for (const file of factFiles(folder)) {
                const text = fs.readFileSync(path.join(factsDir, folder, file), "utf8");
                assert.doesNotMatch(text, /"description":\s*"/, `${folder}/${file}`);
                assert.doesNotMatch(text, /"_example"/, `${folder}/${file}`);
            }
        }
    });
});

describe("upstream facts generator (scripts/upstream/facts.ts)", () => {
    it("strips description keywords but keeps a property named description, defaults and CEL rules", () => {
        const schema = {
            description: "A thing.",
            type: "object",
            properties: {
                description: { type: "string", description: "The thing's description." },
                size: { type: "integer", default: 3, description: "How big." },
            },
            items: [{ description: "x", type: "string" }],
            "x-kubernetes-validations": [{ rule: "self.size > 0", message: "size must be positive" }],
        };
        assert.deepEqual(stripDescriptions(schema), {
            type: "object",
            properties: { description: { type: "string" }, size: { type: "integer", default: 3 } },
            items: [{ type: "string" }],
            "x-kubernetes-validations": [{ rule: "self.size > 0", message: "size must be positive" }],
        });
    });

    it("reads SOURCES.md rows and refuses a tag column without a commit", () => {
        const row = "| crds/a.yaml | owner/repo | config/a.yaml | v1.2.3 (abc1234def56) | app v1.2.3 |";
        assert.deepEqual(parseSources(`# title\n\n| local path | x |\n| --- | --- |\n${row}\n`).get("crds/a.yaml"), {
            file: "crds/a.yaml",
            repository: "owner/repo",
            path: "config/a.yaml",
            tag: "v1.2.3",
            commit: "abc1234def56",
            release: "app v1.2.3",
        });
        assert.throws(() => parseSources("| crds/a.yaml | owner/repo | config/a.yaml | v1.2.3 | app |"), /^Error: SOURCES\.md row crds\/a\.yaml: "v1\.2\.3" is not "TAG \(COMMIT\)"$/);
    });

    it("generates a CRD's served versions and a chart's values from a small upstream folder, naming a file SOURCES.md does not list", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "facts-"));
        try {
            for (const sub of ["crds", "charts/c", "manifests"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
            const crd = (served: boolean, name: string) => `  - name: ${name}\n    served: ${served}\n    storage: ${!served}\n    schema:\n      openAPIV3Schema:\n        description: prose\n        type: object\n`;
            fs.writeFileSync(path.join(dir, "crds/w.yaml"), `kind: CustomResourceDefinition\nspec:\n  group: g.io\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions:\n${crd(true, "v1")}${crd(false, "v0")}`);
            fs.writeFileSync(path.join(dir, "charts/c/Chart.yaml"), "apiVersion: v2\nname: c\nversion: 1.0.0\ndescription: prose\n");
            fs.writeFileSync(path.join(dir, "charts/c/values.yaml"), "# comment\nreplicas: 2 # two\n");
            const rows = ["crds/w.yaml", "charts/c/Chart.yaml", "charts/c/values.yaml"].map((f) => `| ${f} | o/r | p/${f} | v1 (0123456) | chart 1.0.0 |`);
            fs.writeFileSync(path.join(dir, "SOURCES.md"), rows.join("\n"));
            const out = generateFacts(dir);
            assert.deepEqual([...out.keys()], ["crds/w.json", "charts/c.json"]);
            const w = JSON.parse(out.get("crds/w.json")!);
            assert.deepEqual(w.versions, [{ name: "v1", storage: false, openAPIV3Schema: { type: "object" } }]);
            assert.equal(w.sources[0].path, "p/crds/w.yaml");
            const c = JSON.parse(out.get("charts/c.json")!);
            assert.deepEqual([c.chart, c.values], [{ apiVersion: "v2", name: "c", version: "1.0.0" }, { replicas: 2 }]);
            fs.writeFileSync(path.join(dir, "SOURCES.md"), rows.slice(1).join("\n"));
            assert.throws(() => generateFacts(dir), /^Error: crds\/w\.yaml: no row in .*SOURCES\.md$/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
