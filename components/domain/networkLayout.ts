/**
 * IPv4 CIDR arithmetic and the subnet layout of the VPC we create: plain data, no Pulumi.
 *
 * Layout of a VPC `/p` over `n` availability zones (2 <= n <= 6, 16 <= p <= 20):
 *   - the VPC splits into eight `/(p+3)` blocks; block `i` (i < n) is the private subnet of zone `i`, where nodes and
 *     pods live (the VPC CNI gives every pod a VPC address, so these are the big ones);
 *   - block 7 splits into eight `/(p+6)` blocks; block `i` of those is the public subnet of zone `i`, for load
 *     balancers and NAT gateways only;
 *   - block 6 stays free for later use (e.g. a second node subnet per zone).
 * For the default `10.0.0.0/16` that is eight `/19` (8190 usable addresses each) and public `/22`s.
 */

/** An IPv4 network: its first address as an unsigned 32-bit integer and its prefix length. */
export interface Ipv4Network {
    readonly address: number;
    readonly prefix: number;
}

const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const cidrPattern = new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}/(3[0-2]|[12]?\\d)$`);

/** Parses `a.b.c.d/n`; returns a reason instead when the text is not a network address (host bits set included). */
export function parseCidr(text: string): Ipv4Network | { error: string } {
    const m = cidrPattern.exec(text);
    if (!m) {
        return { error: `${JSON.stringify(text)} is not an IPv4 CIDR block like 10.0.0.0/16` };
    }
    const address = (((+m[1] << 24) >>> 0) + (+m[2] << 16) + (+m[3] << 8) + +m[4]) >>> 0;
    const prefix = +m[5];
    const network = { address: (address & mask(prefix)) >>> 0, prefix };
    if (network.address !== address) {
        return { error: `${JSON.stringify(text)} has host bits set; did you mean ${formatCidr(network)}?` };
    }
    return network;
}

function mask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function formatCidr(n: Ipv4Network): string {
    const a = n.address;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${n.prefix}`;
}

/** Number of addresses in the network. */
export function size(n: Ipv4Network): number {
    return 2 ** (32 - n.prefix);
}

/** True when `inner` lies entirely within `outer`. */
export function contains(outer: Ipv4Network, inner: Ipv4Network): boolean {
    return inner.prefix >= outer.prefix && ((inner.address & mask(outer.prefix)) >>> 0) === outer.address;
}

/** True when the two networks share at least one address. */
export function overlaps(a: Ipv4Network, b: Ipv4Network): boolean {
    return contains(a, b) || contains(b, a);
}

/** The `index`-th block of prefix `prefix` inside `n`. */
export function subdivide(n: Ipv4Network, prefix: number, index: number): Ipv4Network {
    const count = 2 ** (prefix - n.prefix);
    if (prefix < n.prefix || prefix > 32 || index < 0 || index >= count) {
        throw new RangeError(`${formatCidr(n)} has no block ${index} of size /${prefix}`);
    }
    return { address: (n.address + index * 2 ** (32 - prefix)) >>> 0, prefix };
}

/** VPC prefixes the layout supports: big enough for pod addresses, small enough to leave room in a /8. */
export const vpcPrefixRange = { min: 16, max: 20 } as const;
/** Availability zones the layout supports (EKS needs two; no region has more than six). */
export const zoneCountRange = { min: 2, max: 6 } as const;

/** Subnet CIDRs per zone, index `i` belonging to zone `i`. */
export interface SubnetLayout {
    readonly private: string[];
    readonly public: string[];
}

/** The layout described at the top of this file. Throws on a VPC prefix or zone count outside the supported ranges. */
export function subnetLayout(vpcCidr: string, zoneCount: number): SubnetLayout {
    const vpc = parseCidr(vpcCidr);
    if ("error" in vpc) {
        throw new RangeError(vpc.error);
    }
    if (vpc.prefix < vpcPrefixRange.min || vpc.prefix > vpcPrefixRange.max) {
        throw new RangeError(`VPC ${vpcCidr}: prefix must be /${vpcPrefixRange.min} to /${vpcPrefixRange.max}`);
    }
    if (!Number.isInteger(zoneCount) || zoneCount < zoneCountRange.min || zoneCount > zoneCountRange.max) {
        throw new RangeError(`zone count ${zoneCount}: must be ${zoneCountRange.min} to ${zoneCountRange.max}`);
    }
    const privatePrefix = vpc.prefix + 3;
    const publicBlock = subdivide(vpc, privatePrefix, 7);
    const zones = [...Array(zoneCount).keys()];
    return {
        private: zones.map((i) => formatCidr(subdivide(vpc, privatePrefix, i))),
        public: zones.map((i) => formatCidr(subdivide(publicBlock, privatePrefix + 3, i))),
    };
}
