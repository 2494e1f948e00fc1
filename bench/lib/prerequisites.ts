/** What the benches need from the machine, checked before anything starts. */
import { existsSync } from "node:fs";
import { ACTIVATOR_MAIN } from "../../testing/activator/activatorProcess";
import { NGINX } from "./nginx";
import { WRK } from "./wrk";

/** What is missing to run the benches, each as a message saying how to get it; empty when all is there. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  const tools = [!NGINX && "nginx", !WRK && "wrk"].filter(Boolean);
  if (tools.length > 0) missing.push(`${tools.join(" and ")} not found: apt-get install nginx-light wrk`);
  if (!existsSync(ACTIVATOR_MAIN)) missing.push(`${ACTIVATOR_MAIN} not found: build the activator first (npm run build)`);
  return missing;
}
