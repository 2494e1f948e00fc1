/**
 * kube-proxy stand-in: makes a Service's cluster DNS name reach its ready endpoints, as kube-proxy's rules would.
 *
 * Each Service the suite maps (its DNS name → a loopback "cluster IP" 127.R.2.n in the hosts file the activator and
 * KEDA see) gets a TCP listener on that address at each Service port, open only while the Service's EndpointSlices
 * (written by kube-controller-manager's EndpointSlice controller) list a ready endpoint; a connection goes to a ready
 * endpoint (round robin) at the slice's port for the same port name. With no ready endpoint the address refuses
 * connections (ECONNREFUSED), as kube-proxy's REJECT rule for a Service without endpoints does.
 */
import * as net from "node:net";
import { Kube } from "./kube";

interface ServiceState {
    readonly namespace: string;
    readonly name: string;
    readonly vip: string;
    /** Service port → port name ("" when unnamed). */
    ports: { port: number; name: string }[];
    /** Ready endpoints by slice, each address with its port numbers by name. */
    readonly slices: Map<string, { ips: string[]; ports: Map<string, number> }>;
    readonly servers: Map<number, net.Server>;
    next: number;
}

export class ServiceProxy {
    private readonly services = new Map<string, ServiceState>();
    private watch?: { stop(): void };
    private readonly sockets = new Set<net.Socket>();

    /** `vips`: "namespace/name" → loopback address. */
    constructor(
        private readonly kube: Kube,
        vips: Map<string, string>,
    ) {
        for (const [key, vip] of vips) {
            const [namespace, name] = key.split("/");
            this.services.set(key, { namespace, name, vip, ports: [], slices: new Map(), servers: new Map(), next: 0 });
        }
    }

    start(): void {
        this.watch = this.kube.watch("/apis/discovery.k8s.io/v1/endpointslices", (type, slice) => void this.onSlice(type, slice).catch(() => undefined));
    }

    async stop(): Promise<void> {
        this.watch?.stop();
        for (const s of this.sockets) s.destroy();
        for (const svc of this.services.values()) for (const port of [...svc.servers.keys()]) await this.closePort(svc, port);
    }

    /** Ready endpoint count of a mapped Service whose address accepts connections (0 while it refuses them). */
    readyEndpoints(namespace: string, name: string): number {
        const svc = this.services.get(`${namespace}/${name}`);
        if (!svc || svc.servers.size === 0) return 0;
        return [...svc.slices.values()].reduce((n, s) => n + s.ips.length, 0);
    }

    private async onSlice(type: string, slice: any): Promise<void> {
        const name = slice.metadata.labels?.["kubernetes.io/service-name"];
        const svc = this.services.get(`${slice.metadata.namespace}/${name}`);
        if (!svc) return;
        if (type === "DELETED") svc.slices.delete(slice.metadata.name);
        else {
            const ips = (slice.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).flatMap((e: any) => e.addresses as string[]);
            const ports = new Map<string, number>((slice.ports ?? []).map((p: any) => [p.name ?? "", p.port]));
            svc.slices.set(slice.metadata.name, { ips, ports });
        }
        await this.sync(svc);
    }

    private async sync(svc: ServiceState): Promise<void> {
        const ready = [...svc.slices.values()].some((s) => s.ips.length > 0);
        if (ready && svc.ports.length === 0) {
            const service = await this.kube.get(`/api/v1/namespaces/${svc.namespace}/services/${svc.name}`);
            svc.ports = service.spec.ports.map((p: any) => ({ port: p.port, name: p.name ?? "" }));
        }
        for (const { port, name } of svc.ports) {
            if (ready && !svc.servers.has(port)) {
                const server = net.createServer((client) => this.connect(svc, name, client));
                svc.servers.set(port, server);
                await new Promise<void>((resolve, reject) => {
                    server.once("error", reject);
                    server.listen(port, svc.vip, () => resolve());
                });
            } else if (!ready && svc.servers.has(port)) {
                await this.closePort(svc, port);
            }
        }
    }

    private async closePort(svc: ServiceState, port: number): Promise<void> {
        const server = svc.servers.get(port)!;
        svc.servers.delete(port);
        await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    private connect(svc: ServiceState, portName: string, client: net.Socket): void {
        const endpoints = [...svc.slices.values()].flatMap((s) => s.ips.map((ip) => ({ ip, port: s.ports.get(portName) })));
        const target = endpoints.filter((e) => e.port !== undefined)[svc.next++ % Math.max(endpoints.length, 1)];
        if (!target) {
            client.destroy();
            return;
        }
        const upstream = net.connect(target.port!, target.ip);
        for (const s of [client, upstream]) {
            this.sockets.add(s);
            s.on("close", () => this.sockets.delete(s));
            s.on("error", () => (s === client ? upstream : client).destroy());
        }
        client.pipe(upstream).pipe(client);
        upstream.on("close", () => client.end());
        client.on("close", () => upstream.destroy());
    }
}
