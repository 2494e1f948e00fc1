/**
 * Who gets cluster-admin through EKS access entries, besides the cluster's creator.
 *
 * EKS gives the IAM principal that creates a cluster an access entry of its own (`bootstrapClusterCreatorAdminPermissions`,
 * which pulumi-eks v4.3.0 leaves on and does not expose); a second access entry for the same principal fails
 * `CreateAccessEntry` with `ResourceInUseException`, and with it `pulumi up`. For an assumed role, the creator is the
 * role (`arn:aws:sts::<account>:assumed-role/<role>/<session>` → `arn:aws:iam::<account>:role/<role>`).
 */

/** The IAM principal behind a caller ARN (`sts:GetCallerIdentity`'s `Arn`): a session's role, or the user itself. */
export function creatorPrincipalArn(callerArn: string): string {
    const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
    return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

/** `partition:account:kind/name` of an IAM role or user ARN, path left out (EKS matches a role's entry by name). */
function principalKey(arn: string): string {
    const m = /^arn:([^:]+):iam::(\d{12}):(role|user)\/(?:.*\/)?([^/]+)$/.exec(arn);
    return m ? `${m[1]}:${m[2]}:${m[3]}/${m[4]}` : arn;
}

/** Whether two IAM principal ARNs name the same role or user (paths aside). */
export function samePrincipal(a: string, b: string): boolean {
    return principalKey(a) === principalKey(b);
}

/**
 * `admins` without the creator: `kept` get access entries of ours, `skipped` (the creator, however listed) already
 * has one from EKS.
 */
export function adminsBesideCreator(admins: readonly string[], creatorArn: string): { kept: string[]; skipped: string[] } {
    const creator = creatorPrincipalArn(creatorArn);
    return {
        kept: admins.filter((a) => !samePrincipal(a, creator)),
        skipped: admins.filter((a) => samePrincipal(a, creator)),
    };
}

/** The one-line warning for a skipped creator. */
export function creatorSkippedMessage(skipped: readonly string[], creatorArn: string): string {
    return (
        `adminPrincipalArns: ${skipped.join(", ")} is the identity that created the cluster (${creatorPrincipalArn(creatorArn)}), ` +
        `which EKS already makes cluster admin; skipping its access entry (a second one would fail pulumi up)`
    );
}
