/**
 * The activator's own metric families in a Prometheus text exposition, each as its text (`# HELP activator_…` through
 * its last sample). Node's default metrics (GC, handles, heap) are left out: they change between two reads of the
 * same registry, so tests compare only these.
 */
export function activatorFamilies(text: string): string[] {
  return text.split("\n\n").filter((family) => family.startsWith("# HELP activator_"));
}
