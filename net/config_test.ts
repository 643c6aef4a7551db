import { assert, assertEquals } from "../tests/_node_fixture.ts";
import { defaultConfig, profiles, renderConfig, resolveConfig } from "./config.ts";

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
