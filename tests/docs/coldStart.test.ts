/**
 * docs/cold-start.md shows the one cold-start budget and prices from the one price table: its tables are what
 * tests/docs/coldStartDoc.ts computes from components/domain/coldStartBudget.ts and components/domain/prices.ts.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { budgetTable, warmCostTable } from "./coldStartDoc";

const doc = readFileSync(path.resolve(__dirname, "../../docs/cold-start.md"), "utf8");

describe("docs/cold-start.md", () => {
    it("has the budget table of coldStartBudget.ts (min – max per phase and path, totals)", () => {
        assert.ok(doc.includes(budgetTable()), `the doc's budget table differs from the data; print it with npx ts-node tests/docs/coldStartDoc.ts:\n${budgetTable()}`);
    });

    it("prices warm capacity from prices.ts and the schedule's hours", () => {
        assert.ok(doc.includes(warmCostTable()), `the doc's warm-capacity table differs from the data:\n${warmCostTable()}`);
    });

    it("says it is not verified on AWS", () => {
        assert.match(doc, /\*\*Not verified on AWS\.\*\*/);
    });
});
