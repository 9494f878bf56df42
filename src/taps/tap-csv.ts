#!/usr/bin/env node
/** tap-csv entry point: see ./csv.ts. */
import { runTap } from "./singer-tap.js";
import { csvTap } from "./csv.js";

runTap("tap-csv", csvTap);
