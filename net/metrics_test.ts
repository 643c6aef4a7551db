import { assert, assertEquals } from "../tests/_node_fixture.ts";
import {
  countDropped,
  createNodeMetrics,
  dropReason,
  exposition,
  gossipsubDropRegister,
  lintFamily,
  parseExposition,
  promtoolFamily,
  promtoolSafe,
  recordNeighbourSets,
} from "./metrics.ts";
import { requireTool } from "../tests/_tools.ts";

Deno.test("promtoolSafe() drops blank lines and takes _total off non-counter families", () => {
  const text = [
    "# HELP libp2p_protocol_streams_total Streams by protocol",
    "# TYPE libp2p_protocol_streams_total gauge",
    'libp2p_protocol_streams_total{protocol="/ipfs/id/1.0.0"} 2',
    "",
    "# HELP libp2p_dials_total Dials",
    "# TYPE libp2p_dials_total counter",
    "libp2p_dials_total 3",
    "",
  ].join("\n");
  assertEquals(
    promtoolSafe(text),
    [
      "# HELP libp2p_protocol_streams Streams by protocol",
      "# TYPE libp2p_protocol_streams gauge",
      'libp2p_protocol_streams{protocol="/ipfs/id/1.0.0"} 2',
      "# HELP libp2p_dials_total Dials",
      "# TYPE libp2p_dials_total counter",
      "libp2p_dials_total 3",
      "",
    ].join("\n"),
  );
});

Deno.test("promtoolSafe() converts milliseconds to seconds, variances to seconds squared", () => {
  const name = "libp2p_connection_monitor_ping_time_milliseconds";
  const text = [
    `# HELP ${name} ${name}`,
    `# TYPE ${name} gauge`,
    `${name}{${name}="successMovingAverage"} 12`,
    `${name}{${name}="successVariance"} 4`,
    `${name}{${name}="success"} 1500`,
    "",
  ].join("\n");
  const seconds = "libp2p_connection_monitor_ping_time_seconds";
  assertEquals(
    promtoolSafe(text).split("\n"),
    [
      `# HELP ${seconds} ${seconds} (converted to base units from ${name})`,
      `# TYPE ${seconds} gauge`,
      `${seconds}{${seconds}="successMovingAverage"} 0.012`,
      `${seconds}{${seconds}="successVariance"} 0.000004`,
      `${seconds}{${seconds}="success"} 1.5`,
      "",
    ],
  );
});

Deno.test("promtoolSafe() renames reserved suffixes, type words, colons, camelCase and abbreviations", () => {
  const text = [
    "# HELP libp2p_kad_dht_routing_table_kad_bucket Buckets",
    "# TYPE libp2p_kad_dht_routing_table_kad_bucket gauge",
    "libp2p_kad_dht_routing_table_kad_bucket 3",
    "# HELP peer_count Peers",
    "# TYPE peer_count gauge",
    'peer_count{le="1",quantile="0.5"} 3',
    "# HELP queue_gauge_size Queue",
    "# TYPE queue_gauge_size gauge",
    "queue_gauge_size 1",
    "# HELP dialErrors Errors",
    "# TYPE dialErrors counter",
    'dialErrors{errorKind="x"} 2',
    "# HELP a:rpc_latency_ms Latency",
    "# TYPE a:rpc_latency_ms gauge",
    "a:rpc_latency_ms 250",
    "# HELP sent_kilobytes_total Sent",
    "# TYPE sent_kilobytes_total counter",
    "sent_kilobytes_total 2",
  ].join("\n");
  const out = promtoolSafe(text);
  for (
    const line of [
      "libp2p_kad_dht_routing_table_kad_buckets 3",
      'peer_counts{upper_bound="1",quantile_level="0.5"} 3',
      "queue_size 1",
      'dial_errors_total{error_kind="x"} 2',
      "a_rpc_latency_seconds 0.25",
      "sent_bytes_total 2000",
    ]
  ) assert(out.split("\n").includes(line), `${line} in\n${out}`);
  for (const family of parseExposition(out)) assertEquals(lintFamily(family), [], family.name);
});

Deno.test("promtoolFamily() scales histogram bounds and sums, never counts", () => {
  const [family] = parseExposition([
    "# HELP rpc_time_milliseconds RPC time",
    "# TYPE rpc_time_milliseconds histogram",
    'rpc_time_milliseconds_bucket{le="10"} 1',
    'rpc_time_milliseconds_bucket{le="+Inf"} 2',
    "rpc_time_milliseconds_sum 30",
    "rpc_time_milliseconds_count 2",
  ].join("\n"));
  const fixed = promtoolFamily(family)!;
  assertEquals(fixed.name, "rpc_time_seconds");
  assertEquals(
    fixed.samples.map((s) => [s.name, s.labels, s.value]),
    [
      ["rpc_time_seconds_bucket", [["le", "0.01"]], "1"],
      ["rpc_time_seconds_bucket", [["le", "+Inf"]], "2"],
      ["rpc_time_seconds_sum", [], "0.03"],
      ["rpc_time_seconds_count", [], "2"],
    ],
  );
});

Deno.test("promtoolSafe() leaves out, with a comment, a family no rename can fix", () => {
  const out = promtoolSafe([
    "# HELP disk_kelvin Temperature",
    "# TYPE disk_kelvin gauge",
    "disk_kelvin 300",
  ].join("\n"));
  assertEquals(out, "# icn: left out disk_kelvin: promtool refuses its name\n\n");
});

Deno.test("lintFamily() finds what promtool refuses", () => {
  const lint = (name: string, type: string, labels: [string, string][] = []) =>
    lintFamily({ name, type, help: "h", samples: [{ name, labels, value: "1" }] });
  assertEquals(lint("libp2p_connection_monitor_ping_time_milliseconds", "gauge"), [
    'non-base unit "milliseconds"',
  ]);
  assertEquals(lint("libp2p_kad_dht_routing_table_kad_bucket", "gauge"), ['"_bucket" suffix']);
  assertEquals(lint("x_dials", "counter"), ['counter without "_total"']);
  assertEquals(lint("x_open_total", "gauge"), ['non-counter with "_total"']);
  assertEquals(lint("x_time_seconds", "gauge", [["le", "1"]]), ['"le" label']);
  assertEquals(lint("icn_validation_seconds", "histogram"), []);
});

Deno.test("every icn_ metric family passes promtool's naming rules", async () => {
  const metrics = createNodeMetrics();
  metrics.accepted.inc({ kind: "trust.edge", source: "gossip" });
  metrics.validationSeconds.observe({ source: "gossip" }, 0.01);
  for (const family of parseExposition(await metrics.registry.metrics())) {
    assertEquals(lintFamily(family), [], family.name);
  }
});

Deno.test("exposition() is the icn_ metrics alone while libp2p's registry is empty", async () => {
  const metrics = createNodeMetrics({ processMetrics: false });
  metrics.accepted.inc({ kind: "trust.edge", source: "gossip" });
  assertEquals(await exposition(metrics), await metrics.registry.metrics());
});

Deno.test("dropReason() keeps the label bounded: known reasons, aliases, anything else is other", () => {
  assertEquals(dropReason("invalid_signature"), "invalid_signature");
  assertEquals(dropReason("too_large"), "oversized");
  assertEquals(dropReason("quarantined"), "quarantined_author");
  assertEquals(dropReason("insufficient_credit"), "other");
  assertEquals(dropReason("__proto__"), "other");
  assertEquals(dropReason("x".repeat(10_000)), "other");
});

Deno.test("icn_messages_dropped_total starts at 0 for every reason and counts by channel", async () => {
  const metrics = createNodeMetrics({ processMetrics: false });
  countDropped(metrics, "gossip", "no_hello", 3);
  countDropped(metrics, "sync", "made_up_reason");
  const text = await metrics.registry.metrics();
  assert(text.includes('icn_messages_dropped_total{channel="gossip",reason="no_hello"} 3'), text);
  assert(text.includes('icn_messages_dropped_total{channel="sync",reason="other"} 1'), text);
  assert(text.includes('icn_messages_dropped_total{channel="sync",reason="fork"} 0'), text);
});

Deno.test("gossipsubDropRegister() counts gossipsub's own drops, not the topic validator's answers", () => {
  const drops: [string, number][] = [];
  const register = gossipsubDropRegister((reason, n) => drops.push([reason, n]));
  const invalid = register.gauge<{ error: string }>({
    name: "gossipsub_msg_received_invalid_total",
    help: "h",
    labelNames: ["error"],
  });
  invalid.inc({ error: "signature_present" }, 1);
  invalid.inc({ error: "reject" }, 1);
  invalid.inc({ error: "ignore" }, 1);
  register.gauge({ name: "gossipsub_rpc_rcv_not_accepted_total", help: "h" }).inc();
  register.gauge({ name: "gossipsub_rpc_data_err_count_total", help: "h" }).inc(2);
  register.gauge({ name: "gossipsub_rpc_sent_bytes_total", help: "h" }).inc(100);
  register.histogram({ name: "x_seconds", help: "h" }).startTimer()();
  assertEquals(drops, [["bad_frame", 1], ["graylisted", 1], ["undecodable_rpc", 2]]);
});

Deno.test("icn_neighbors{set} starts at 0 for the four sets, follows recordNeighbourSets() and passes promtool", async () => {
  const metrics = createNodeMetrics({ processMetrics: false });
  const samples = async () =>
    parseExposition(await metrics.registry.metrics())
      .find((family) => family.name === "icn_neighbors")!.samples
      .map((sample) => [sample.labels, sample.value]);
  assertEquals(await samples(), [
    [[["set", "cluster"]], "0"],
    [[["set", "regional"]], "0"],
    [[["set", "backbone"]], "0"],
    [[["set", "trusted"]], "0"],
  ]);
  recordNeighbourSets(metrics, { cluster: 16, regional: 3, backbone: 0, trusted: 2 });
  recordNeighbourSets(metrics, { cluster: 15, regional: 3, backbone: 1, trusted: 2 });
  assertEquals(await samples(), [
    [[["set", "cluster"]], "15"],
    [[["set", "regional"]], "3"],
    [[["set", "backbone"]], "1"],
    [[["set", "trusted"]], "2"],
  ]);
  const text = await exposition(metrics);
  assert(text.includes("# TYPE icn_neighbors gauge\n"), text);
  for (const family of parseExposition(text)) assertEquals(lintFamily(family), [], family.name);
  if (requireTool("promtool", "promtool check metrics on icn_neighbors")) {
    const child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const out = await child.output();
    const decoder = new TextDecoder();
    assertEquals(out.code, 0, decoder.decode(out.stdout) + decoder.decode(out.stderr));
  }
});
