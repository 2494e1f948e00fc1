/**
 * The one rule for routes that collide: no OpenAI `model` value routed to two models, no `host + path prefix`
 * pair (a model without hosts routes any host, `*`; without a prefix, `/`) routed to two models, no KServe model
 * name routed to two models under one protocol, and no KServe v1 name that is also an OpenAI `model` value (both
 * would answer `GET /v1/models/<name>`). The activator's
 * config schema applies it to `models[]`, and the stack config (components/config/models.ts) to `models[].routing`, so
 * `pulumi up` refuses what the activator would refuse.
 */
import { hostPathRoutes, type RouteKeys } from "./table";

/** One collision: models[`model`].`key`[`index`] (no index for pathPrefix) is already routed to models[`owner`]. */
export interface RouteConflict {
  model: number;
  key: "openaiModels" | "hosts" | "pathPrefix" | "kserve";
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
  const kserve = new Map<string, number>();
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
    for (const protocol of model.kserve?.protocols ?? []) {
      const name = model.kserve!.modelName;
      const owner = kserve.get(`${protocol} ${name}`);
      if (owner === undefined) kserve.set(`${protocol} ${name}`, i);
      else conflicts.push({ model: i, key: "kserve", owner, message: `KServe model "${name}" (protocol ${protocol}) is already routed to models[${owner}]` });
    }
  });
  models.forEach((model, i) => {
    const name = model.kserve?.protocols.includes("v1") ? model.kserve.modelName : undefined;
    const owner = name === undefined ? undefined : openai.get(name);
    if (owner !== undefined) {
      conflicts.push({ model: i, key: "kserve", owner, message: `KServe v1 model "${name}" is also an OpenAI model of models[${owner}]: GET /v1/models/${name} would answer for both` });
    }
  });
  return conflicts;
}
