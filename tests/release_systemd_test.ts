/** The systemd unit for `icn node run` passes `systemd-analyze verify` and keeps its promises. */

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

import { needsTools } from "./_tools.ts";

const unitPath = new URL("../scripts/icn-node.service", import.meta.url).pathname;

function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) out.set(match[1], [...out.get(match[1]) ?? [], match[2]]);
  }
  return out;
}

Deno.test("icn-node.service runs icn node run as a dedicated user, sandboxed, with a bounded stop", async () => {
  const unit = directives(await Deno.readTextFile(unitPath));
  const one = (key: string) => unit.get(key)?.at(-1);
  assert(one("User") === "icn" && one("Group") === "icn", "dedicated user");
  assert(one("ExecStart")?.endsWith(" node run"), `ExecStart ${one("ExecStart")}`);
  assert(unit.get("Environment")?.includes("ICN_HOME=/var/lib/icn"), "state in /var/lib/icn");
  assert(one("Restart") === "on-failure", "Restart=on-failure");
  assert(one("KillSignal") === "SIGTERM", "graceful stop signal");
  const stop = Number(one("TimeoutStopSec")?.replace(/s$/, ""));
  assert(
    stop > 10 && stop <= 30,
    `TimeoutStopSec ${stop} covers the node's 10 s shutdown plus a margin`,
  );
  assert(one("NoNewPrivileges") === "yes", "NoNewPrivileges");
  assert(one("ProtectSystem") === "strict", "ProtectSystem=strict");
  assert(one("ReadWritePaths") === "/var/lib/icn", "ReadWritePaths");
  assert(!unit.has("MemoryDenyWriteExecute"), "V8's JIT needs writable+executable memory");
});

Deno.test(needsTools(["systemd-analyze"], {
  name: "icn-node.service passes systemd-analyze verify",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // verify checks that ExecStart's program exists: point it at a stand-in executable.
      const standIn = `${dir}/icn`;
      await Deno.copyFile("/bin/true", standIn);
      await Deno.chmod(standIn, 0o755);
      const unit = (await Deno.readTextFile(unitPath)).replace(
        "ExecStart=/usr/local/bin/icn",
        `ExecStart=${standIn}`,
      );
      await Deno.writeTextFile(`${dir}/icn-node.service`, unit);
      const output = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/icn-node.service`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assert(output.success, text);
      const ours = text.split("\n").filter((l) => l.includes("icn-node.service"));
      assert(ours.length === 0, `warnings about the unit:\n${ours.join("\n")}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
}));
