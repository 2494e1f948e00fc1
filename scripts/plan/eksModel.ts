/**
 * What `eks.Cluster` (pulumi-eks v4.3.0, a remote component: its children are created by the eks provider plugin, so
 * the mock runtime never sees them) creates for the arguments our program gives it — a model, read from pulumi/pulumi-eks
 * at tag v4.3.0 and listed in the plan under the component, each child marked as modelled (pure).
 *
 * Source, pulumi/pulumi-eks v4.3.0 nodejs/eks/:
 *   - cluster/cluster.ts `createCore`: the service role (`${name}-eksRole`, a ServiceRole with AmazonEKSClusterPolicy,
 *     trust eks.amazonaws.com with sts:AssumeRole + sts:TagSession); no cluster security group when
 *     `skipDefaultSecurityGroups`; the `aws.eks.Cluster` `${name}-eksCluster` (subnets = public + private ids,
 *     `bootstrapSelfManagedAddons` true, encryptionConfig `secrets`, accessConfig with
 *     `bootstrapClusterCreatorAdminPermissions: true`, tag Name); the kube-proxy add-on `${name}-kube-proxy` (unless
 *     `kubeProxyAddonOptions.enabled` is false); the Kubernetes provider `${name}-eks-k8s`; no instance role, instance
 *     profile or aws-auth ConfigMap for `skipDefaultNodeGroup` with authenticationMode API; access entries
 *     (cluster/authenticationMode.ts `createAccessEntries`: `${name}-${key}` and `${name}-${key}-${policy}`); the
 *     VpcCniAddon `${name}-vpc-cni` when `useDefaultVpcCni` is false; no CoreDNS add-on without a default node group
 *     or Fargate (EKS installs CoreDNS itself, `bootstrapSelfManagedAddons`); the OIDC provider `${name}-oidcProvider`
 *     when `createOidcProvider`.
 *   - servicerole.ts: a ServiceRole is `${name}-role` plus one RolePolicyAttachment per managed policy.
 *   - addons/cni-addon.ts: the `vpc-cni` add-on, configurationValues `enableNetworkPolicy` as a string plus pulumi-eks'
 *     `env` defaults (`computeEnv`).
 *   - cluster/cluster.ts `Cluster` constructor: no node security group (`skipDefaultSecurityGroups`), no default node
 *     group (`skipDefaultNodeGroup`).
 * EKS itself (not Pulumi) creates the cluster security group: all traffic from itself, all egress; managed nodes join it.
 *
 * Arguments outside what this model covers throw, naming the argument, so a change to the program cannot silently
 * make the listing wrong.
 */
import type { PlannedResource } from "./runtime";

export const PULUMI_EKS_VERSION = "v4.3.0";

/** A child the plan lists from the model (not registered by the program). */
export interface ModelledResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    /** Children of this one (a ServiceRole's role, an access entry's policy association). */
    readonly children?: ModelledResource[];
}

/** Arguments of ours that the model requires to have exactly these values. */
const required: Record<string, unknown> = {
    skipDefaultNodeGroup: true,
    skipDefaultSecurityGroups: true,
    useDefaultVpcCni: false,
    createOidcProvider: true,
};
/** Arguments that would add or change children and that the model does not cover. */
const unmodelled = ["serviceRole", "clusterSecurityGroup", "fargate", "autoMode", "instanceRole", "instanceRoles", "createInstanceRole", "roleMappings", "userMappings", "storageClasses", "kubeProxyAddonOptions", "corednsAddonOptions", "nodeGroupOptions", "creationRoleProvider", "subnetIds"];

/** The children pulumi-eks v4.3.0 creates for the recorded `eks:index:Cluster` resource, in creation order. */
export function eksClusterChildren(cluster: Pick<PlannedResource, "name" | "inputs">, region: string): ModelledResource[] {
    const name = cluster.name;
    const a = cluster.inputs as Record<string, any>;
    for (const [key, value] of Object.entries(required)) {
        if (a[key] !== value) throw new Error(`plan: eks.Cluster "${name}" ${key} is ${JSON.stringify(a[key])}; the pulumi-eks ${PULUMI_EKS_VERSION} model (scripts/plan/eksModel.ts) covers ${JSON.stringify(value)} only`);
    }
    for (const key of unmodelled) {
        if (a[key] !== undefined) throw new Error(`plan: eks.Cluster "${name}" sets ${key}, which the pulumi-eks ${PULUMI_EKS_VERSION} model (scripts/plan/eksModel.ts) does not cover`);
    }
    const partition = "aws";
    const serviceRole: ModelledResource = {
        type: "eks:index:ServiceRole",
        name: `${name}-eksRole`,
        inputs: { service: "eks.amazonaws.com" },
        children: [
            {
                type: "aws:iam/role:Role",
                name: `${name}-eksRole-role`,
                inputs: {
                    description: "Allows EKS to manage clusters on your behalf.",
                    assumeRolePolicy: JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [{ Action: ["sts:AssumeRole", "sts:TagSession"], Effect: "Allow", Principal: { Service: ["eks.amazonaws.com"] } }],
                    }),
                },
            },
            { type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name: `${name}-eksRole-<sha1 of the policy>`, inputs: { policyArn: `arn:${partition}:iam::aws:policy/AmazonEKSClusterPolicy` } },
        ],
    };
    const clusterName = a.name ?? name;
    const eksCluster: ModelledResource = {
        type: "aws:eks/cluster:Cluster",
        name: `${name}-eksCluster`,
        inputs: {
            name: clusterName,
            roleArn: `(${name}-eksRole-role)`,
            version: a.version,
            bootstrapSelfManagedAddons: true,
            vpcConfig: {
                subnetIds: [...(a.publicSubnetIds ?? []), ...(a.privateSubnetIds ?? [])],
                endpointPrivateAccess: a.endpointPrivateAccess,
                endpointPublicAccess: a.endpointPublicAccess,
                ...(a.publicAccessCidrs ? { publicAccessCidrs: a.publicAccessCidrs } : {}),
                securityGroupIds: "(none: EKS creates the cluster security group)",
            },
            enabledClusterLogTypes: a.enabledClusterLogTypes,
            ...(a.encryptionConfigKeyArn ? { encryptionConfig: { provider: { keyArn: a.encryptionConfigKeyArn }, resources: ["secrets"] } } : {}),
            ...(a.authenticationMode ? { accessConfig: { authenticationMode: a.authenticationMode, bootstrapClusterCreatorAdminPermissions: true } } : {}),
            upgradePolicy: a.upgradePolicy,
            deletionProtection: a.deletionProtection,
            tags: { Name: `${name}-eksCluster` },
        },
        children: [
            {
                type: "(EKS) cluster security group",
                name: `eks-cluster-sg-${clusterName}-<id>`,
                inputs: {
                    createdBy: "EKS, with the cluster (not a Pulumi resource); managed node groups' nodes and Karpenter's join it",
                    ingress: ["all traffic from this security group"],
                    egress: ["all traffic to 0.0.0.0/0"],
                },
            },
        ],
    };
    const addon = (addonName: string, extra: Record<string, unknown>): ModelledResource => ({
        type: "aws:eks/addon:Addon",
        name: `${name}-${addonName}`,
        inputs: { clusterName, addonName, addonVersion: `(most recent for Kubernetes ${a.version}, aws.eks.getAddonVersion)`, preserve: true, resolveConflictsOnCreate: "OVERWRITE", resolveConflictsOnUpdate: "OVERWRITE", ...extra },
    });
    const accessEntries: ModelledResource[] = Object.entries((a.accessEntries ?? {}) as Record<string, any>).map(([key, entry]) => ({
        type: "aws:eks/accessEntry:AccessEntry",
        name: `${name}-${key}`,
        inputs: { clusterName, principalArn: entry.principalArn, ...(entry.type ? { type: entry.type } : {}) },
        children: Object.entries((entry.accessPolicies ?? {}) as Record<string, any>).map(([policy, association]) => ({
            type: "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
            name: `${name}-${key}-${policy}`,
            inputs: { clusterName, principalArn: entry.principalArn, policyArn: association.policyArn, accessScope: association.accessScope },
        })),
    }));
    const vpcCni: ModelledResource = {
        type: "eks:index:VpcCniAddon",
        name: `${name}-vpc-cni`,
        inputs: a.vpcCniOptions ?? {},
        children: [
            addon("vpc-cni", {
                configurationValues: {
                    ...(a.vpcCniOptions?.enableNetworkPolicy !== undefined ? { enableNetworkPolicy: String(a.vpcCniOptions.enableNetworkPolicy) } : {}),
                    env: "(pulumi-eks defaults: WARM_ENI_TARGET 1, AWS_VPC_K8S_CNI_LOGLEVEL DEBUG, AWS_VPC_K8S_CNI_VETHPREFIX eni, ...)",
                },
            }),
        ],
    };
    const oidc: ModelledResource = {
        type: "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        name: `${name}-oidcProvider`,
        inputs: { clientIdLists: ["sts.amazonaws.com"], url: `https://oidc.eks.${region}.amazonaws.com/id/<cluster id>`, thumbprintLists: ["(the issuer CA's SHA-1 thumbprint)"] },
    };
    const k8sProvider: ModelledResource = { type: "pulumi:providers:kubernetes", name: `${name}-eks-k8s`, inputs: { kubeconfig: "(the cluster's, with the AWS CLI token command)" } };
    return [serviceRole, eksCluster, addon("kube-proxy", {}), k8sProvider, ...accessEntries, vpcCni, oidc];
}
