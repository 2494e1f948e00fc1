/**
 * The one naming rule for child resources: `${parent}-${role}`. Keeping it in one place keeps URNs stable (renaming a
 * child replaces the resource) and makes `pulumi preview` read as a tree of roles.
 */
export function childName(parent: string, role: string): string {
    return `${parent}-${role}`;
}
