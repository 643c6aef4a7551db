import { Command, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import type { Registrar } from "./command.ts";

/** Top-level tool commands (version, completions, doctor). */
export function toolCommands(r: Registrar): CommandUnknownOpts[] {
  const version = r.action(
    new Command("version").description(
      "Print the icn version, git commit, Deno/V8/TypeScript versions and target",
    ),
    () => import("./version.ts"),
    "version",
  );
  const completions = r.action(
    new Command("completions").description("Print a shell completion script")
      .addArgument(
        new Command().createArgument("<shell>", "bash, zsh or fish").choices([
          "bash",
          "zsh",
          "fish",
        ]),
      ),
    () => import("./completions.ts"),
    "completions",
  );
  const doctor = r.action(
    new Command("doctor").description(
      "Check the data dir, keystore, store, log, clock and ports; each finding with a fix",
    )
      .addOption(
        new Option(
          "--p2p-port <port>",
          "p2p TCP port to check (default: the running node's, else config.toml, ICN_NODE_LISTEN, 4001)",
        ),
      )
      .addOption(
        new Option(
          "--http-port <port>",
          "HTTP port to check (metrics, health, control; default: the running node's, else config.toml, ICN_HTTP_LISTEN, 5601)",
        ),
      ),
    () => import("./doctor.ts"),
    "doctor",
  );
  return [version, completions, doctor];
}
