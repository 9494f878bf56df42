/**
 * What a query asks of a Relay connection's nodes, for reads that fetch only that (the connector
 * list). Field names, not aliases; fragments and inline fragments are followed; `@include`/`@skip`
 * are ignored, so a conditional field is read anyway (over-reading is safe, under-reading is not).
 */
import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";

/** A selection: each field name with the selections under it (merged). */
export type Selection = Map<string, SelectionSetNode[]>;

function collect(sets: readonly (SelectionSetNode | undefined)[], info: GraphQLResolveInfo, out: Selection = new Map()): Selection {
  for (const set of sets) {
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.FIELD) {
        const list = out.get(s.name.value) ?? [];
        if (s.selectionSet) list.push(s.selectionSet);
        out.set(s.name.value, list);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        collect([s.selectionSet], info, out);
      } else {
        collect([info.fragments[s.name.value]?.selectionSet], info, out);
      }
    }
  }
  return out;
}

/** The fields asked under a selection's field (`sub(sel, "lastRun")`), or null when not asked. */
export function sub(selection: Selection, name: string, info: GraphQLResolveInfo): Selection | null {
  const sets = selection.get(name);
  return sets ? collect(sets, info) : null;
}

/** The node fields of a connection field (`nodes { … }` and `edges { node { … } }` merged). */
export function connectionNodeSelection(info: GraphQLResolveInfo): Selection {
  const connection = collect(info.fieldNodes.map((f) => f.selectionSet), info);
  const edges = sub(connection, "edges", info);
  return collect([...(connection.get("nodes") ?? []), ...(edges?.get("node") ?? [])], info);
}

/**
 * `compute(info)` remembered per field node of the document: Apollo hands the same cached
 * document to every request of one text, so a selection is walked once, not per request.
 */
export function perFieldNode<T>(cache: WeakMap<FieldNode, T>, info: GraphQLResolveInfo, compute: (info: GraphQLResolveInfo) => T): T {
  if (info.fieldNodes.length !== 1) return compute(info);
  const key = info.fieldNodes[0]!;
  let value = cache.get(key);
  if (value === undefined) {
    value = compute(info);
    cache.set(key, value);
  }
  return value;
}
