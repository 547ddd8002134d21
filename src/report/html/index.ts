/** The HTML report: the renderer of a report and its packet series (collected by run/series.ts). */
export { type FlowSeriesSet, FLOW_COLLECT_CAP, TOTAL_COLLECT_CAP } from "./series-set.js";
export {
  renderHtml,
  escapeHtml,
  scriptJson,
  type HtmlOptions,
  MAX_LISTED_FLOWS,
  MAX_LISTED_FINDINGS,
} from "./render.js";
export { POINT_BUDGET, FLOW_POINTS_MAX, OTHER_FLOW_POINTS_MAX } from "./downsample.js";
