/**
 * The report as records for log pipelines (`--format ndjson-ecs`): one JSON line per flow
 * and one per finding, under Elastic Common Schema field names where ECS has the field
 * (schema/ecs-fields.json lists the ones used and their types), and sockscope's own under
 * `sockscope.*` with the names of the JSON report. Filebeat, Vector or Logstash ship the
 * lines to Elasticsearch/OpenSearch unchanged; `network.community_id` joins them with
 * Zeek's and Suricata's records of the same traffic.
 *
 * The mapping, and why:
 * - a flow is `event.kind: event`, `event.dataset: sockscope.flow`; the client is `source`
 *   and the server `destination` (ECS: the source is the side that initiated);
 * - a finding is `event.dataset: sockscope.finding`, `event.kind: alert` when it is a
 *   warning or an error (something to look at) and `event` when it is info (normal), so a
 *   query for alerts does not drown in TIME_WAIT; `log.level` and `event.severity`
 *   (1 info, 2 warning, 3 error) carry the severity, `rule.name` the kind, `message` the summary;
 * - `event.outcome` is `failure` for an error finding and for a flow with one, else `unknown`
 *   (a capture rarely proves success).
 */
import { ANALYZERS } from "../analyze/registry.js";
import type { FlowReport } from "../analyze/result.js";
import type { Finding } from "../analyze/finding.js";
import { hostOf, portOf } from "../decode/wire/address.js";
import { flowCommunityId } from "./community-id.js";
import type { Report } from "./model.js";
import { MAX_CALENDAR_SEC } from "./time.js";

export const ECS_VERSION = "8.11.0";

export interface EcsOptions {
  /** sockscope's version, as `observer.version`. */
  version: string;
  /** The host the capture was taken on, when the user names it: `host.name` and `observer.hostname`. */
  hostName?: string;
  /** The capture's SHA-256 (capture/content-hash.ts), as `sockscope.capture.hash`: given in many-capture runs. */
  contentHash?: string;
}

const SEVERITY_NUMBER = { info: 1, warning: 2, error: 3 } as const;
const IANA = { tcp: "6", udp: "17" } as const;

/** One record per flow (in flow order), then one per finding (in report order). */
export function* ecsRecords(r: Report, o: EcsOptions): Generator<Record<string, unknown>> {
  const failed = new Set<number>();
  for (const f of r.findings) if (f.severity === "error" && f.flow !== null) failed.add(f.flow);
  const flows = new Map<number, { flow: FlowReport; communityId: string | null }>();
  const common = commonFields(r, o);
  for (const flow of r.flows) {
    const communityId = flowCommunityId(flow.proto, flow.client, flow.server);
    flows.set(flow.id, { flow, communityId });
    yield flowRecord(flow, communityId, failed.has(flow.id), common);
  }
  const kinds = new Map(ANALYZERS.map((a) => [a.id, a]));
  for (const f of r.findings) {
    const of = f.flow === null ? undefined : flows.get(f.flow);
    yield findingRecord(f, of, kinds.get(f.kind), common);
  }
}

/** The lines of `--format ndjson-ecs`. */
export function* ecsLines(r: Report, o: EcsOptions): Generator<string> {
  for (const rec of ecsRecords(r, o)) yield JSON.stringify(rec);
}

interface Common {
  observer: Record<string, unknown>;
  host: Record<string, unknown> | undefined;
  capture: Record<string, unknown>;
}

function commonFields(r: Report, o: EcsOptions): Common {
  return {
    observer: {
      product: "sockscope",
      vendor: "sockscope",
      type: "sensor",
      version: o.version,
      ...(o.hostName === undefined ? {} : { hostname: o.hostName }),
    },
    host: o.hostName === undefined ? undefined : { name: o.hostName },
    capture: { file: r.capture.file, ...(o.contentHash === undefined ? {} : { hash: o.contentHash }) },
  };
}

function flowRecord(flow: FlowReport, communityId: string | null, failed: boolean, c: Common): Record<string, unknown> {
  const start = ecsTime(flow.start);
  const end = ecsTime(flow.start + flow.durationSec);
  return {
    ...(start === undefined ? {} : { "@timestamp": start }),
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: ["network"],
      type: ["connection"],
      module: "sockscope",
      dataset: "sockscope.flow",
      ...(start === undefined ? {} : { start }),
      ...(end === undefined ? {} : { end }),
      duration: Math.round(flow.durationSec * 1e9),
      outcome: failed ? "failure" : "unknown",
    },
    source: { ...endpoint(flow.client), bytes: flow.bytes.client, packets: flow.packets.client },
    destination: { ...endpoint(flow.server), bytes: flow.bytes.server, packets: flow.packets.server },
    network: {
      ...networkFields(flow, communityId),
      bytes: flow.bytes.client + flow.bytes.server,
      packets: flow.packets.client + flow.packets.server,
    },
    observer: c.observer,
    ...(c.host === undefined ? {} : { host: c.host }),
    sockscope: { capture: c.capture, flow },
  };
}

function findingRecord(
  f: Finding,
  of: { flow: FlowReport; communityId: string | null } | undefined,
  kind: { title: string; family: string } | undefined,
  c: Common,
): Record<string, unknown> {
  const at = ecsTime(f.time);
  return {
    ...(at === undefined ? {} : { "@timestamp": at }),
    ecs: { version: ECS_VERSION },
    event: {
      kind: f.severity === "info" ? "event" : "alert",
      category: ["network"],
      type: ["connection"],
      module: "sockscope",
      dataset: "sockscope.finding",
      severity: SEVERITY_NUMBER[f.severity],
      outcome: f.severity === "error" ? "failure" : "unknown",
    },
    log: { level: f.severity },
    message: f.summary,
    rule: { name: f.kind, ...(kind === undefined ? {} : { description: kind.title, category: kind.family }) },
    ...(of === undefined
      ? {}
      : {
          source: endpoint(of.flow.client),
          destination: endpoint(of.flow.server),
          network: networkFields(of.flow, of.communityId),
        }),
    observer: c.observer,
    ...(c.host === undefined ? {} : { host: c.host }),
    // Facts are left out: the words are written from them, and their value types differ
    // between kinds, which a store's field mapping would reject.
    sockscope: { capture: c.capture, finding: { ...f, facts: undefined } },
  };
}

function endpoint(e: string): { ip: string; port: number } {
  return { ip: hostOf(e), port: portOf(e) };
}

function networkFields(flow: FlowReport, communityId: string | null): Record<string, unknown> {
  return {
    transport: flow.proto,
    type: hostOf(flow.client).includes(":") ? "ipv6" : "ipv4",
    iana_number: IANA[flow.proto],
    ...(communityId === null ? {} : { community_id: communityId }),
    ...(flow.vlan === null ? {} : { vlan: { id: String(flow.vlan) } }),
  };
}

/** ISO 8601 in UTC to the microsecond (what a capture's timestamps carry); undefined beyond the calendar. */
export function ecsTime(t: number): string | undefined {
  if (!Number.isFinite(t) || Math.abs(t) > MAX_CALENDAR_SEC) return undefined;
  const micros = Math.round(t * 1e6);
  const sec = Math.floor(micros / 1e6);
  const frac = String(micros - sec * 1e6).padStart(6, "0");
  return new Date(sec * 1000).toISOString().replace(/\.000Z$/, `.${frac}Z`);
}
