/** The HTML report: series collection (a pipeline observer) and the renderer. */
export { SeriesCollector, type FlowSeriesSet, FLOW_COLLECT_CAP, TOTAL_COLLECT_CAP } from "./series.js";
export {
  renderHtml,
  escapeHtml,
  scriptJson,
  type HtmlOptions,
  MAX_LISTED_FLOWS,
  MAX_LISTED_FINDINGS,
} from "./render.js";
export { POINT_BUDGET, FLOW_POINTS_MAX, OTHER_FLOW_POINTS_MAX } from "./downsample.js";
