import { assert, assertEquals } from "../../tests/_node_fixture.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { defaultConfig, renderConfig, resolveConfig } from "../config.ts";
import { publicBindWarning } from "./serve.ts";

Deno.test("gateway config: off by default, read from [gateway], the environment and --gateway", () => {
  const defaults = defaultConfig("server");
  assertEquals(defaults.gatewayListen, "");
  assertEquals(defaults.gatewayPublicReads, false);
  assertEquals(defaults.gatewayCorsOrigins, []);
  assertEquals(defaults.gatewayMaxInFlight, 64);
  assert(renderConfig("server").includes("[gateway]"), "node init writes the section");
  const file = resolveConfig(
    '[gateway]\nlisten = "0.0.0.0:8080"\npublic_reads = true\ncors_origins = ["https://a.example"]\ntrusted_proxies = ["10.0.0.5"]\ntoken_ttl_s = 600\nmax_in_flight = 8\n',
  );
  assertEquals(
    [
      file.gatewayListen,
      file.gatewayPublicReads,
      file.gatewayCorsOrigins,
      file.gatewayTrustedProxies,
      file.gatewayTokenTtlS,
      file.gatewayMaxInFlight,
    ],
    ["0.0.0.0:8080", true, ["https://a.example"], ["10.0.0.5"], 600, 8],
  );
  const env = resolveConfig(undefined, {
    env: { ICN_GATEWAY_LISTEN: "127.0.0.1:9090", ICN_GATEWAY_CORS_ORIGINS: "https://a, https://b" },
  });
  assertEquals([env.gatewayListen, env.gatewayCorsOrigins], ["127.0.0.1:9090", [
    "https://a",
    "https://b",
  ]]);
  assertEquals(
    resolveConfig(undefined, { flags: { gateway: "[::1]:0" } }).gatewayListen,
    "[::1]:0",
  );
});

Deno.test("gateway config: a bad listen address or lifetime is refused naming the key", () => {
  for (
    const text of [
      '[gateway]\nlisten = "8080"\n',
      '[gateway]\nlisten = "host:99999"\n',
      "[gateway]\ntoken_ttl_s = 5\n",
      "[gateway]\nmax_in_flight = 0\n",
      "[gateway]\nbogus = 1\n",
    ]
  ) {
    let message = "";
    try {
      resolveConfig(text);
    } catch (error) {
      assert(error instanceof InvalidInputError, "an input error");
      message = error.message;
    }
    assert(message.includes("gateway."), `${JSON.stringify(text)}: ${message}`);
  }
});

Deno.test("publicBindWarning() warns for a public bind without a trusted proxy only", () => {
  assertEquals(
    publicBindWarning({ gatewayListen: "127.0.0.1:8080", gatewayTrustedProxies: [] }),
    null,
  );
  assertEquals(publicBindWarning({ gatewayListen: "[::1]:8080", gatewayTrustedProxies: [] }), null);
  assert(
    publicBindWarning({ gatewayListen: "0.0.0.0:8080", gatewayTrustedProxies: [] }) !== null,
    "public bind warns",
  );
  assertEquals(
    publicBindWarning({ gatewayListen: "0.0.0.0:8080", gatewayTrustedProxies: ["10.0.0.5"] }),
    null,
  );
});
