import { Command } from "@commander-js/extra-typings";
import { collect, netOption, type Registrar } from "./command.ts";

const bundle = () => import("./bundle.ts");
const handlers = () => import("./node.ts");

export function nodeCommands(r: Registrar): Command {
  const node = new Command("node").description(
    "The peer-to-peer node and offline exchange of envelopes",
  );
  r.action(
    node.command("export").description("Write envelopes to a CAR bundle for another data dir")
      .requiredOption("--out <file>", "bundle file to write")
      .option(
        "--since <position>",
        "start at this log position (printed by a previous export as `next`)",
        "0",
      )
      .addOption(netOption()),
    bundle,
    "exportBundle",
  );
  r.action(
    node.command("import").description("Validate and import a CAR bundle (all or nothing)")
      .argument("<file>", "bundle file")
      .addOption(netOption()),
    bundle,
    "importBundle",
  );
  r.action(
    node.command("init").description("Write a commented config.toml with every default")
      .option("--profile <profile>", "server, lan or test", "server")
      .option("--force", "overwrite an existing config.toml"),
    handlers,
    "init",
  );
  r.action(
    node.command("run").description("Run the peer-to-peer node until SIGINT/SIGTERM")
      .option("--config <file>", "config file (default: $ICN_HOME/config.toml when present)")
      .option("--profile <profile>", "server, lan or test defaults")
      .option("--listen <addr>", "libp2p listen multiaddr (repeatable)", collect)
      .option("--bootstrap <addr>", "peer multiaddr with /p2p/ID to dial (repeatable)", collect)
      .option("--http <host:port>", "loopback HTTP server for metrics, health and control")
      .option("--gateway <host:port>", "serve the app API and dashboard here (docs/gateway.md)")
      .option("--log-format <format>", "text or json")
      .option("--log-level <level>", "debug, info, warn or error"),
    handlers,
    "run",
  );
  r.action(
    node.command("status").description(
      "Show the running node: identity, listen addresses, peers, sync",
    ),
    handlers,
    "status",
  );
  r.action(
    node.command("peers").description("List the running node's peers with trust class and score"),
    handlers,
    "peers",
  );
  r.action(
    node.command("receipt").description("Show a receipt of a write through the app gateway")
      .argument("<id>", "receipt id (r-…)"),
    () => import("./node_receipt.ts"),
    "receipt",
  );
  r.action(
    node.command("connect").description("Ask the running node to dial a peer")
      .argument("<addr>", "multiaddr with /p2p/ID"),
    handlers,
    "connect",
  );
  return node;
}
