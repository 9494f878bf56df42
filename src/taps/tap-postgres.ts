#!/usr/bin/env node
/** tap-postgres entry point: see ./postgres.ts. */
import { runTap } from "./singer-tap.js";
import { postgresTap } from "./postgres.js";

runTap("tap-postgres", postgresTap);
