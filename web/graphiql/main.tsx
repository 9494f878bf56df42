/**
 * GraphiQL from the project's own bundle (no CDN): queries over HTTP, subscriptions over
 * graphql-ws. Credentials go in the header editor (`x-api-key` or `Authorization`); the same
 * headers are sent as the websocket's `connection_init` payload.
 */
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { createClient } from "graphql-ws";
import { parse, type DocumentNode } from "graphql";
import "graphiql/style.css";

function tryParse(query: string): DocumentNode | null {
  try {
    return parse(query);
  } catch {
    return null;
  }
}

const url = new URL("/graphql", location.href).toString();
let wsHeaders: Record<string, string> = {};
const wsClient = createClient({ url: url.replace(/^http/, "ws"), lazy: true, connectionParams: () => wsHeaders });

const httpFetcher = createGraphiQLFetcher({ url, wsClient });
// The toolkit does not pass the editor's headers to the websocket; keep the last ones for
// `connection_init` (a change of credentials takes effect on the next connection).
const fetcher: typeof httpFetcher = (params, opts) => {
  // Empty values (the template's `"x-api-key": ""`) are left out: an empty key is a bad key.
  const headers = Object.fromEntries(
    Object.entries(opts?.headers ?? {})
      .filter(([, v]) => v !== "" && v != null)
      .map(([k, v]) => [k.toLowerCase(), String(v)]),
  );
  if (JSON.stringify(headers) !== JSON.stringify(wsHeaders)) {
    wsHeaders = headers;
    void wsClient.terminate?.();
  }
  // GraphiQL updates the operation name and parsed document a moment after an edit; run right
  // after one and it still sends the old name ("Unknown operation named …") and picks HTTP or the
  // websocket from the old document. Both are taken from the text actually sent.
  const documentAST = tryParse(params.query);
  if (documentAST) {
    const names = documentAST.definitions.flatMap((d) => (d.kind === "OperationDefinition" ? [d.name?.value] : []));
    const operationName = params.operationName && !names.includes(params.operationName) && names.length === 1 ? names[0] : params.operationName;
    return httpFetcher({ ...params, operationName }, { ...opts, documentAST });
  }
  return httpFetcher(params, opts);
};

const DEFAULT_HEADERS = JSON.stringify({ "x-api-key": "" }, null, 2);
const DEFAULT_QUERY = `# Gantry GraphQL. Put your admin key (x-api-key) or tenant token
# (Authorization: Bearer …) in the Headers tab below.
query Viewer {
  viewer { kind adminKeyId tenant { slug } }
}
`;

createRoot(document.getElementById("graphiql")!).render(
  <GraphiQL fetcher={fetcher} defaultHeaders={DEFAULT_HEADERS} defaultQuery={DEFAULT_QUERY} isHeadersEditorEnabled shouldPersistHeaders={false} />,
);
