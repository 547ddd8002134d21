import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const FIXTURES = join(ROOT, "fixtures");
/** The shared corpus lives beside the repository (../shared/corpus), as in CI. */
export const CORPUS = join(ROOT, "..", "shared", "corpus");
export const CLI = join(ROOT, "dist", "cli", "main.js");
