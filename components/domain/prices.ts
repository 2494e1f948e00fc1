/**
 * The repository's one price table: AWS list prices (USD, on-demand, Linux, shared tenancy) for what the stacks
 * create, per region the stacks use (dev: us-west-2, prod: us-east-1). Every cost figure of the project reads it
 * (`npm run simulate`, the docs' cost sections). Pure data: it imports nothing.
 *
 * Each figure carries its public source and the date it was read there. `estimate: true` marks a figure that could
 * not be read from a public page from this environment (no internet): it is the figure the named page is known to
 * list, to be checked against that page before it is relied on. AWS changes prices without notice (P4d/P4de
 * on-demand prices were cut in 2025), so re-check `asOf` before quoting a figure.
 */

/** One price: `usd` per `unit`, where it was read and when. */
export interface Price {
    readonly usd: number;
    readonly unit: "hour" | "GB";
    /** Public page the figure comes from. */
    readonly source: string;
    /** Date (YYYY-MM-DD) the figure was read at `source`. */
    readonly asOf: string;
    /** True when the figure could not be read at `source` from here (see the module comment). */
    readonly estimate?: boolean;
    readonly note?: string;
}

export interface RegionPrices {
    /** EC2 on-demand price per instance-hour, by instance type. */
    readonly instances: Readonly<Record<string, Price>>;
    /** EKS control plane, standard support, per cluster-hour. */
    readonly eksCluster: Price;
    /** NAT gateway, per gateway-hour. */
    readonly natGatewayHour: Price;
    /** NAT gateway data processing, per GB (both directions). */
    readonly natGatewayPerGB: Price;
    /** Network Load Balancer, per NLB-hour (NLCUs extra, not modelled). */
    readonly nlbHour: Price;
}

const EC2_ON_DEMAND = "https://aws.amazon.com/ec2/pricing/on-demand/";
const EKS_PRICING = "https://aws.amazon.com/eks/pricing/";
const VPC_PRICING = "https://aws.amazon.com/vpc/pricing/";
const ELB_PRICING = "https://aws.amazon.com/elasticloadbalancing/pricing/";
/** A dated copy of the AWS on-demand list prices of P-family instances (retrieved 2026-11-09, us-east-1). */
const P4_DATED = "https://raw.githubusercontent.com/datareceipts/data-receipts/main/109-gpu-pricing/hyperscalers.json";
const READ = "2026-12-05";

const p4d = (estimate: boolean, note?: string): Price => ({
    usd: 21.957642,
    unit: "hour",
    source: estimate ? EC2_ON_DEMAND : P4_DATED,
    asOf: estimate ? READ : "2026-11-09",
    ...(estimate ? { estimate, note } : { note: `AWS list price as of the date, after the 2025 P4 price cut; official page: ${EC2_ON_DEMAND}` }),
});
const p4de = (estimate: boolean, note?: string): Price => ({
    usd: 27.44705,
    unit: "hour",
    source: estimate ? EC2_ON_DEMAND : P4_DATED,
    asOf: estimate ? READ : "2026-11-09",
    ...(estimate ? { estimate, note } : { note: `AWS list price as of the date; official page: ${EC2_ON_DEMAND}` }),
});
const SAME_AS_EAST = "assumed equal to us-east-1 (P4 on-demand prices are the same in both US regions on the official page; not read here)";
const M6I = "m6i on-demand list price; not read from the page here";

const usHourly = (usd: number, source: string, note?: string): Price => ({ usd, unit: "hour", source, asOf: READ, estimate: true, ...(note ? { note } : {}) });

const commonUs = {
    eksCluster: usHourly(0.1, EKS_PRICING, "standard support; extended support is $0.60 (the stacks pin STANDARD)"),
    natGatewayHour: usHourly(0.045, VPC_PRICING, "also quoted at this rate for us-east-1 by basavytix.com/blog/aws-nat-gateway-pricing"),
    natGatewayPerGB: { usd: 0.045, unit: "GB", source: VPC_PRICING, asOf: READ, estimate: true } as Price,
    nlbHour: usHourly(0.0225, ELB_PRICING, "also quoted by clustercost.com/blog/network-load-balancer-pricing-2025 (us-east-1)"),
};

/** Prices by region. */
export const prices: Readonly<Record<string, RegionPrices>> = {
    "us-east-1": {
        instances: {
            "p4d.24xlarge": p4d(false),
            "p4de.24xlarge": p4de(false),
            "m6i.large": usHourly(0.096, EC2_ON_DEMAND, M6I),
            "m6i.xlarge": usHourly(0.192, EC2_ON_DEMAND, M6I),
            "m6i.2xlarge": usHourly(0.384, EC2_ON_DEMAND, M6I),
        },
        ...commonUs,
    },
    "us-west-2": {
        instances: {
            "p4d.24xlarge": p4d(true, SAME_AS_EAST),
            "p4de.24xlarge": p4de(true, SAME_AS_EAST),
            "m6i.large": usHourly(0.096, EC2_ON_DEMAND, M6I),
            "m6i.xlarge": usHourly(0.192, EC2_ON_DEMAND, M6I),
            "m6i.2xlarge": usHourly(0.384, EC2_ON_DEMAND, M6I),
        },
        ...commonUs,
    },
};

/** The price of `instanceType` in `region`; throws naming what is missing from the table. */
export function instancePrice(region: string, instanceType: string): Price {
    const r = prices[region];
    if (!r) throw new Error(`no prices for region ${region} (the table has ${Object.keys(prices).join(", ")})`);
    const p = r.instances[instanceType];
    if (!p) throw new Error(`no price for ${instanceType} in ${region} (the table has ${Object.keys(r.instances).join(", ")})`);
    return p;
}
