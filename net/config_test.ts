import { assert, assertEquals } from "../tests/_node_fixture.ts";
import {
  defaultConfig,
  neighbourSetsInit,
  profiles,
  renderConfig,
  resolveConfig,
} from "./config.ts";

function throwsNaming(fn: () => unknown, key: string): void {
  try {
    fn();
  } catch (error) {
    assert(
      (error as Error).message.includes(key),
      `message names ${key}: ${(error as Error).message}`,
    );
    return;
  }
  throw new Error(`expected an error naming ${key}`);
}

Deno.test("renderConfig() writes every default of each profile, and reading it back gives the defaults", () => {
  for (const profile of profiles) {
    const text = renderConfig(profile);
    assert(text.startsWith("#"), "commented");
    assertEquals(resolveConfig(text), defaultConfig(profile));
  }
});

Deno.test("resolveConfig() lets environment override the file and flags override both", () => {
  const file = '[limits]\npeer_rate = 10\n[log]\nlevel = "debug"\n';
  const config = resolveConfig(file, {
    env: {
      ICN_LIMITS_PEER_RATE: "20",
      ICN_NODE_LISTEN: "/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2",
    },
    flags: { listen: ["/ip4/127.0.0.1/tcp/3"], logLevel: "error" },
  });
  assertEquals(config.peerRate, 20);
  assertEquals(config.listen, ["/ip4/127.0.0.1/tcp/3"]);
  assertEquals(config.logLevel, "error");
});

Deno.test("resolveConfig() refuses invalid values naming the offending key", () => {
  throwsNaming(() => resolveConfig("[limits]\npeer_rate = -1\n"), "limits.peer_rate");
  throwsNaming(() => resolveConfig("[limits]\npeer_rat = 1\n"), "limits.peer_rat");
  throwsNaming(() => resolveConfig('[log]\nformat = "xml"\n'), "log.format");
  throwsNaming(
    () => resolveConfig(undefined, { env: { ICN_SYNC_PAGE_SIZE: "lots" } }),
    "ICN_SYNC_PAGE_SIZE",
  );
  throwsNaming(() => resolveConfig(undefined, { flags: { http: "0.0.0.0:5601" } }), "http.listen");
  throwsNaming(
    () => resolveConfig(undefined, { flags: { bootstrap: ["not-an-addr"] } }),
    "--bootstrap",
  );
  throwsNaming(() => resolveConfig("not toml ["), "Cannot parse node config");
  throwsNaming(() => resolveConfig('[relay]\nserver = "yes"\n'), "relay.server");
  throwsNaming(() => resolveConfig("[discovery]\ndht_private = 1\n"), "discovery.dht_private");
  throwsNaming(
    () => resolveConfig(undefined, { env: { ICN_DISCOVERY_AUTONAT: "maybe" } }),
    "ICN_DISCOVERY_AUTONAT",
  );
});

Deno.test("admission limits have defaults, read from [admission], and refuse values out of range", () => {
  const config = defaultConfig("server");
  assertEquals(config.connectionsPerPrefixPercentMax, 25);
  assertEquals(config.connectionsPerPrefixMin, 4);
  const read = resolveConfig("[admission]\nprefix_percent_max = 10\nprefix_connections_min = 2\n");
  assertEquals([read.connectionsPerPrefixPercentMax, read.connectionsPerPrefixMin], [10, 2]);
  throwsNaming(
    () => resolveConfig("[admission]\nprefix_percent_max = 0\n"),
    "admission.prefix_percent_max",
  );
  throwsNaming(
    () => resolveConfig(undefined, { env: { ICN_ADMISSION_POW_TIMEOUT_MS: "5" } }),
    "ICN_ADMISSION_POW_TIMEOUT_MS",
  );
});

Deno.test("topology settings have documented defaults and the cluster defaults to the cooperative", () => {
  for (const profile of profiles) {
    const config = defaultConfig(profile);
    assertEquals(
      [config.topologyRegion, config.topologyCluster, config.topologyRole],
      ["default", "", "edge"],
    );
    assertEquals(neighbourSetsInit(config, "bafycoop"), {
      local: { region: "default", cluster: "bafycoop", role: "edge" },
      limits: { cluster: 16, regional: 8, backbone: 8, trusted: 8 },
    });
    const limits = neighbourSetsInit(config, "bafycoop").limits;
    const sum = limits.cluster + limits.regional + limits.backbone + limits.trusted;
    assert(sum <= config.maxConnections, `${profile}: neighbour limits fit max_connections`);
  }
  const text = renderConfig("server");
  assert(text.includes("[topology]\n# region announced"), text);
  assert(text.includes("[topology.limits]\n# most peers in the cluster neighbour set"), text);
});

Deno.test("resolveConfig() reads [topology] and [topology.limits] from the file and ICN_TOPOLOGY_* from the environment", () => {
  const file = [
    "[topology]",
    'region = "eu-west"',
    'cluster = "bakery-coop"',
    'role = "rendezvous"',
    "[topology.limits]",
    "cluster = 2",
    "regional = 3",
    "",
  ].join("\n");
  const config = resolveConfig(file, {
    env: { ICN_TOPOLOGY_LIMITS_TRUSTED: "5", ICN_TOPOLOGY_ROLE: "archive" },
  });
  assertEquals(neighbourSetsInit(config, "bafycoop"), {
    local: { region: "eu-west", cluster: "bakery-coop", role: "archive" },
    limits: { cluster: 2, regional: 3, backbone: 8, trusted: 5 },
  });
  // The inline-table form of the same keys.
  const inline = resolveConfig("[topology]\nlimits = { backbone = 4 }\n");
  assertEquals(inline.backboneNeighboursMax, 4);
});

Deno.test("resolveConfig() refuses a bad role, a bad region or cluster and a limit that is not positive", () => {
  throwsNaming(() => resolveConfig('[topology]\nrole = "hub"\n'), "topology.role");
  throwsNaming(
    () => resolveConfig('[topology]\nrole = "hub"\n'),
    'expected one of edge, rendezvous, archive, got "hub"',
  );
  throwsNaming(
    () => resolveConfig("[topology.limits]\ncluster = 0\n"),
    'Invalid node config "topology.limits.cluster": 0 is outside 1..10000',
  );
  throwsNaming(() => resolveConfig("[topology.limits]\ntrusted = -3\n"), "topology.limits.trusted");
  throwsNaming(
    () => resolveConfig(undefined, { env: { ICN_TOPOLOGY_LIMITS_REGIONAL: "0" } }),
    "ICN_TOPOLOGY_LIMITS_REGIONAL",
  );
  throwsNaming(() => resolveConfig('[topology]\nregion = "eu west"\n'), "topology.region");
  throwsNaming(() => resolveConfig('[topology]\nregion = ""\n'), "expected a non-empty string");
  throwsNaming(() => resolveConfig("[topology]\ncluster = 7\n"), "topology.cluster");
  throwsNaming(() => resolveConfig("[topology.limits]\nmesh = 2\n"), "topology.limits.mesh");
  throwsNaming(() => resolveConfig("[topology.extra]\nx = 2\n"), "topology.extra");
  throwsNaming(() => resolveConfig("[limits.sub]\nx = 2\n"), "limits.sub");
});
