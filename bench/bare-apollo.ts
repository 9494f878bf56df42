/**
 * The peer for the HTTP benchmark: a bare Apollo Server 5 on express 5 serving the same schema,
 * with none of Gantry's middleware (auth, request ids, metrics, limits, error boundary).
 * Prints `listening <port>` once ready.
 */
import "reflect-metadata";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import { buildGantrySchema } from "../resolvers/index.js";

const app = express();
const server = new ApolloServer({ schema: await buildGantrySchema() });
await server.start();
app.use("/graphql", express.json(), expressMiddleware(server));
const http = createServer(app);
http.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${(http.address() as AddressInfo).port}\n`));
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
