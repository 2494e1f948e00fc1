/**
 * The one rule for routes that collide: no OpenAI `model` value routed to two models, and no `host + path prefix`
 * pair (a model without hosts routes any host, `*`; without a prefix, `/`) routed to two models. The activator's
 * config schema applies it to `models[]`, and the stack config (components/config/models.ts) to `models[].routing`, so
 * `pulumi up` refuses what the activator would refuse.
 */
import { hostPathRoutes, type RouteKeys } from "./table";

/** One collision: models[`model`].`key`[`index`] (no index for pathPrefix) is already routed to models[`owner`]. */
export interface RouteConflict {
  model: number;
  key: "openaiModels" | "hosts" | "pathPrefix";
  index?: number;
  owner: number;
  /** One line, e.g. `host "a.example.com" with path prefix "/" is already routed to models[0]`. */
  message: string;
}

/** Every collision among `models`, in model order; the first model to claim a route owns it. */
export function routeConflicts(models: readonly RouteKeys[]): RouteConflict[] {
  const conflicts: RouteConflict[] = [];
  const openai = new Map<string, number>();
  const routes = new Map<string, number>();
  models.forEach((model, i) => {
    model.openaiModels.forEach((id, k) => {
      const owner = openai.get(id);
      if (owner === undefined) openai.set(id, i);
      else conflicts.push({ model: i, key: "openaiModels", index: k, owner, message: `OpenAI model "${id}" is already routed to models[${owner}]` });
    });
    hostPathRoutes(model).forEach(({ host, prefix }, k) => {
      const route = `${host ?? "*"}${prefix}`;
      const owner = routes.get(route);
      if (owner === undefined) {
        routes.set(route, i);
        return;
      }
      const where = host === undefined ? "any host" : `host "${host}"`;
      const at = model.hosts.length > 0 ? { key: "hosts" as const, index: k } : { key: "pathPrefix" as const };
      conflicts.push({ model: i, ...at, owner, message: `${where} with path prefix "${prefix}" is already routed to models[${owner}]` });
    });
  });
  return conflicts;
}
