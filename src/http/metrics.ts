/** Prometheus metrics (prom-client), one registry per app so tests can run several apps. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  operationDuration: Histogram<"operation" | "type" | "outcome">;
  websocketConnections: Gauge;
  errors: Counter<"code">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "gantry_" });
  return {
    registry,
    httpDuration: new Histogram({
      name: "gantry_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    operationDuration: new Histogram({
      name: "gantry_graphql_operation_duration_seconds",
      help: "GraphQL operation duration by operation name",
      labelNames: ["operation", "type", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    websocketConnections: new Gauge({
      name: "gantry_websocket_connections",
      help: "Open graphql-ws connections",
      registers: [registry],
    }),
    errors: new Counter({
      name: "gantry_graphql_errors_total",
      help: "GraphQL errors by code",
      labelNames: ["code"],
      registers: [registry],
    }),
  };
}
