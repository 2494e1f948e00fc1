/**
 * Typos only AWS would catch are refused when the stack config is read, with a suggestion from the catalog of EC2
 * instance types and regions the repository ships (components/domain/awsCatalogData.ts, dated and sourced).
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { parseStackConfig, StackConfigError } from "../../../components/config/stack";
import { storageUriProblem } from "../../../components/config/models";
import { a100RegionNotes, a100RegionsOffering, awsCatalogSource, closestNames, instanceTypeNames, instanceTypeProblem, regionProblem } from "../../../components/domain/awsCatalog";
import { planConfig } from "../../../scripts/plan/stackConfig";

const root = path.resolve(__dirname, "../../..");
/** Problems of the dev stack with `settings` (as `npm run plan -- --set` takes them), the API network filled in. */
function problems(...settings: string[]): string[] {
    const { config } = planConfig(root, "dev", ["apiEndpoint.access=public", "apiEndpoint.publicAccessCidrs[0]=1.2.3.4/32", ...settings]);
    try {
        parseStackConfig(config);
        return [];
    } catch (e) {
        if (!(e instanceof StackConfigError)) throw e;
        return [...e.problems];
    }
}

describe("AWS names checked at config time", () => {
    it("ships the catalog dated, with its source and the regions known to offer p4d/p4de", () => {
        assert.match(awsCatalogSource.generatedOn, /^\d{4}-\d{2}-\d{2}$/);
        assert.match(awsCatalogSource.karpenter.commit, /^[0-9a-f]{40}$/);
        for (const t of ["m6i.large", "m6i.xlarge", "c7g.medium", "p4d.24xlarge", "p4de.24xlarge", "g6e.xlarge"]) assert.ok(instanceTypeNames.has(t), t);
        assert.ok(a100RegionsOffering("p4d.24xlarge").includes("us-east-1"));
        assert.ok(a100RegionsOffering("p4de.24xlarge").includes("us-east-1"));
        assert.deepEqual(a100RegionsOffering("m6i.large"), []);
    });

    it("suggests the closest names, all of those tied", () => {
        assert.deepEqual(closestNames("m6i.larg", instanceTypeNames), ["m6i.large"]);
        assert.deepEqual(closestNames("zzzz.qqqqqq", instanceTypeNames), []);
        assert.equal(instanceTypeProblem("m6i.large"), undefined);
        assert.equal(regionProblem("eu-central-2"), undefined);
        assert.equal(regionProblem("us-west-3"), '"us-west-3" is not an AWS region; did you mean us-west-1 or us-west-2?');
    });

    it("refuses an instance type typo for the system nodes, suggesting the real one", () => {
        assert.deepEqual(problems("systemNodeGroup.instanceType=m6i.larg"), ['gpu-serverless:systemNodeGroup.instanceType: "m6i.larg" is not an EC2 instance type; did you mean m6i.large?']);
        assert.match(problems("systemNodeGroup.instanceType=qqq9.nano")[0]!, /"qqq9\.nano" is not an EC2 instance type \(list of \d{4}-\d{2}-\d{2} in components\/domain\/awsCatalogData\.ts/);
        assert.deepEqual(problems("systemNodeGroup.instanceType=c7i.2xlarge"), []);
    });

    it("refuses a region AWS does not have, suggesting the real ones", () => {
        assert.deepEqual(problems("region=us-west-3"), ['gpu-serverless:region: "us-west-3" is not an AWS region; did you mean us-west-1 or us-west-2?']);
        assert.deepEqual(problems("region=eu-west-1"), []);
    });

    it("says a bucket name with capitals is not a bucket name, instead of 'not a supported model location'", () => {
        const problem = storageUriProblem("s3://MyModels/llama/v1")!;
        assert.match(problem, /bucket "MyModels" has capital letters, which an S3 bucket name cannot have .*did you mean "mymodels"\?/);
        assert.doesNotMatch(problem, /not a supported model location/);
        assert.match(storageUriProblem("gs://a/llama/v1")!, /bucket "a" is not a Cloud Storage bucket name/);
        assert.equal(storageUriProblem("s3://my-models/llama/v1"), undefined);
    });

    it("notes an A100 group in a region its sources do not list, naming the group, type and the regions they list", () => {
        const [note, ...rest] = a100RegionNotes("af-south-1", [
            { name: "a100", instanceType: "p4d.24xlarge" },
            { name: "cpu", instanceType: "m6i.large" },
        ]);
        assert.equal(rest.length, 0, "types outside the A100 list get no note");
        assert.match(note!, /^gpuNodeGroups a100: p4d\.24xlarge is not known to be offered in af-south-1; .* list it in us-east-1, /);
        assert.deepEqual(a100RegionNotes("us-east-1", [{ name: "a100", instanceType: "p4de.24xlarge" }]), []);
    });
});
