import { assertEquals } from "../tests/_node_fixture.ts";
import { createNodeMetrics, exposition, promtoolSafe } from "./metrics.ts";

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

Deno.test("exposition() is the icn_ metrics alone while libp2p's registry is empty", async () => {
  const metrics = createNodeMetrics({ processMetrics: false });
  metrics.accepted.inc({ kind: "trust.edge", source: "gossip" });
  assertEquals(await exposition(metrics), await metrics.registry.metrics());
});
