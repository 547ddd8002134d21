/**
 * Every analyzer, in report order. Adding a kind: one module in `analyzers/`, one line
 * here, fixtures under `fixtures/<kind>/`; a test checks all three exist.
 */
import type { AnalyzerDescriptor } from "./analyzer.js";

export const ANALYZERS: AnalyzerDescriptor<any>[] = [];
