-- sockscope's ClickHouse tables (`--sink clickhouse://…`). The sink runs these statements,
-- in order, in the URL's database each time it connects (hence IF NOT EXISTS); they also run
-- by hand: clickhouse-client -d DB --multiquery < schema/clickhouse.sql
--
-- Written for ClickHouse 18.16 (Debian bookworm's package) and later: no DateTime64, no
-- LowCardinality, no IPv4/IPv6 column types, no Map, no TTL, no codecs, no skipping indices.
--
-- Idempotence and completeness: every row carries its capture_id (the capture file's SHA-256;
-- a live session's random id). The tables are ReplacingMergeTree with the row's identity in
-- the sorting key, so writing a capture twice leaves one copy after merges and at once under
-- FINAL. A capture file's rows count only once its `captures` row exists: the sink writes that
-- row last, so a write cut short (server gone mid-way) leaves rows that the stored_* views
-- never show, and the next run of the same capture writes them all again, then the row.
-- Query the stored_* views; query the tables with FINAL and the captures join to do the same.

CREATE TABLE IF NOT EXISTS flows
(
    capture_id String,
    capture_file String,
    host String,
    start DateTime,
    start_epoch Float64,
    duration_sec Float64,
    transport Enum8('tcp' = 6, 'udp' = 17),
    client_ip String,
    client_port UInt16,
    server_ip String,
    server_port UInt16,
    vlan UInt16,
    community_id String,
    flow_id UInt32,
    first_frame UInt64,
    last_frame UInt64,
    client_bytes UInt64,
    client_packets UInt64,
    server_bytes UInt64,
    server_packets UInt64,
    roles_guessed UInt8,
    end_reason String,
    closed_by String,
    client_state String,
    server_state String,
    finding_count UInt32,
    error_count UInt32
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(start)
ORDER BY (start, server_ip, server_port, client_ip, client_port, transport, capture_id, flow_id);

CREATE TABLE IF NOT EXISTS findings
(
    capture_id String,
    capture_file String,
    host String,
    time DateTime,
    time_epoch Float64,
    seq UInt32,
    kind String,
    severity Enum8('info' = 1, 'warning' = 2, 'error' = 3),
    flow_id UInt32,
    transport Enum8('none' = 0, 'tcp' = 6, 'udp' = 17),
    client_ip String,
    client_port UInt16,
    server_ip String,
    server_port UInt16,
    community_id String,
    side String,
    endpoint String,
    summary String,
    explanation String,
    measure_names Array(String),
    measure_values Array(Float64),
    frames Array(UInt64),
    count UInt32,
    references Array(String)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (time, server_ip, server_port, client_ip, client_port, transport, capture_id, seq);

CREATE TABLE IF NOT EXISTS captures
(
    capture_id String,
    capture_file String,
    host String,
    source Enum8('file' = 1, 'live' = 2),
    start DateTime,
    end DateTime,
    packets UInt64,
    flows UInt64,
    findings UInt64,
    sockscope_version String,
    stored_at DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY capture_id;

CREATE VIEW IF NOT EXISTS stored_flows AS
SELECT * FROM flows FINAL WHERE capture_id IN (SELECT capture_id FROM captures);

CREATE VIEW IF NOT EXISTS stored_findings AS
SELECT * FROM findings FINAL WHERE capture_id IN (SELECT capture_id FROM captures);
