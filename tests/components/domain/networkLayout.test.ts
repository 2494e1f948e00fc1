import * as assert from "node:assert/strict";
import fc from "fast-check";
import { contains, formatCidr, overlaps, parseCidr, size, subnetLayout, vpcPrefixRange, zoneCountRange } from "../../../components/domain/networkLayout";

const network = (text: string) => {
    const n = parseCidr(text);
    assert.ok(!("error" in n), text);
    return n;
};

describe("network layout", () => {
    describe("parseCidr", () => {
        const valid: Array<[string, number]> = [
            ["10.0.0.0/16", 65536],
            ["0.0.0.0/0", 2 ** 32],
            ["192.168.4.0/22", 1024],
            ["255.255.255.255/32", 1],
        ];
        for (const [text, addresses] of valid) {
            it(`reads ${text} (${addresses} addresses) and writes it back`, () => {
                assert.equal(formatCidr(network(text)), text);
                assert.equal(size(network(text)), addresses);
            });
        }
        const invalid: Array<[string, RegExp]> = [
            ["10.0.0.0", /not an IPv4 CIDR block/],
            ["10.0.0/16", /not an IPv4 CIDR block/],
            ["256.0.0.0/16", /not an IPv4 CIDR block/],
            ["10.0.0.0/33", /not an IPv4 CIDR block/],
            ["010.0.0.0/16", /not an IPv4 CIDR block/],
            ["10.1.2.3/16", /host bits set; did you mean 10\.1\.0\.0\/16\?/],
        ];
        for (const [text, reason] of invalid) {
            it(`refuses ${text}`, () => {
                const n = parseCidr(text);
                assert.ok("error" in n);
                assert.match(n.error, reason);
            });
        }
    });

    describe("subnetLayout", () => {
        it("splits 10.0.0.0/16 over three zones into /19 private and /22 public subnets", () => {
            assert.deepEqual(subnetLayout("10.0.0.0/16", 3), {
                private: ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"],
                public: ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"],
            });
        });

        it("scales with the VPC: 172.16.16.0/20 over two zones", () => {
            assert.deepEqual(subnetLayout("172.16.16.0/20", 2), {
                private: ["172.16.16.0/23", "172.16.18.0/23"],
                public: ["172.16.30.0/26", "172.16.30.64/26"],
            });
        });

        const refused: Array<[string, number, RegExp]> = [
            ["10.0.0.0/15", 3, /prefix must be \/16 to \/20/],
            ["10.0.0.0/21", 3, /prefix must be \/16 to \/20/],
            ["10.0.0.0/16", 1, /must be 2 to 6/],
            ["10.0.0.0/16", 7, /must be 2 to 6/],
            ["10.0.0.1/16", 3, /host bits/],
        ];
        for (const [cidr, zones, reason] of refused) {
            it(`refuses ${cidr} over ${zones} zones`, () => assert.throws(() => subnetLayout(cidr, zones), reason));
        }

        // Any VPC network address the layout supports: a random address with its host bits cleared.
        const anyLayout = fc
            .record({
                address: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
                prefix: fc.integer({ min: vpcPrefixRange.min, max: vpcPrefixRange.max }),
                zones: fc.integer({ min: zoneCountRange.min, max: zoneCountRange.max }),
            })
            .map(({ address, prefix, zones }) => {
                const hostBits = 2 ** (32 - prefix);
                return { vpc: formatCidr({ address: Math.floor(address / hostBits) * hostBits, prefix }), zones };
            });

        it("property: one private and one public subnet per zone, all inside the VPC, none overlapping", () => {
            fc.assert(
                fc.property(anyLayout, ({ vpc, zones }) => {
                    const layout = subnetLayout(vpc, zones);
                    assert.equal(layout.private.length, zones);
                    assert.equal(layout.public.length, zones);
                    const all = [...layout.private, ...layout.public].map(network);
                    for (const s of all) assert.ok(contains(network(vpc), s), `${formatCidr(s)} outside ${vpc}`);
                    all.forEach((a, i) => all.slice(i + 1).forEach((b) => assert.ok(!overlaps(a, b), `${formatCidr(a)} overlaps ${formatCidr(b)}`)));
                }),
            );
        });

        it("property: private subnets hold an eighth of the VPC, public ones a sixty-fourth", () => {
            fc.assert(
                fc.property(anyLayout, ({ vpc, zones }) => {
                    const layout = subnetLayout(vpc, zones);
                    const total = size(network(vpc));
                    for (const s of layout.private) assert.equal(size(network(s)), total / 8);
                    for (const s of layout.public) assert.equal(size(network(s)), total / 64);
                }),
            );
        });
    });
});
