#!/usr/bin/env node
// Refreshes the example outputs in README.md (see readme-blocks.mjs) with the real output of
// their commands, run from this checkout: `node scripts/update-readme.mjs`. Review the diff.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { replaceBlocks, runBlock } from "./readme-blocks.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const path = new URL("../README.md", import.meta.url);
writeFileSync(
  path,
  replaceBlocks(readFileSync(path, "utf8"), ({ cmd }) => runBlock(cmd, root)),
);
console.log("README.md examples refreshed");
