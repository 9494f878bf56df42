#!/usr/bin/env node
/** tap-synthetic entry point: see ./synthetic.ts. */
import { runTap } from "./singer-tap.js";
import { syntheticTap } from "./synthetic.js";

runTap("tap-synthetic", syntheticTap);
