import { assert, assertEquals } from "../tests/_node_fixture.ts";
import {
  defaultConfig,
  defaultHeapSizing,
  profiles,
  renderConfig,
  resolveConfig,
  v8HeapFlags,
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

Deno.test("v8HeapFlags size the heap at start; setting flags at run time changes nothing", async () => {
  const script = `import v8 from "node:v8";
const before = v8.getHeapStatistics().heap_size_limit;
v8.setFlagsFromString("--max-old-space-size=64");
console.log(JSON.stringify([before, v8.getHeapStatistics().heap_size_limit]));`;
  const env = Deno.env.toObject();
  delete env.DENO_V8_FLAGS;
  const limits = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", ...args, script],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert(out.success, "deno eval failed");
    return JSON.parse(new TextDecoder().decode(out.stdout)) as [number, number];
  };
  const [flagged, flaggedAfter] = await limits([`--v8-flags=${v8HeapFlags}`]);
  // 512 MB old generation + 3 × 2 MB young generation.
  assertEquals(Math.round(flagged / 2 ** 20), 518);
  assert(!defaultHeapSizing(flagged), "the small heap is not default sizing");
  assertEquals(flaggedAfter, flagged);
  const [plain, plainAfter] = await limits([]);
  assertEquals(plainAfter, plain);
  assert(defaultHeapSizing(4192 * 2 ** 20) && !defaultHeapSizing(1030 * 2 ** 20), "threshold");
});
