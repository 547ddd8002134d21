import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const FIXTURES = join(ROOT, "fixtures");
/** Other projects' published captures with tshark's verdicts, carried in the repository (test/corpus/README.md). */
export const CORPUS = join(ROOT, "test", "corpus");
export const CLI = join(ROOT, "dist", "cli", "main.js");
