/**
 * Reading works on a data dir icn cannot write; writes are refused clearly;
 * a read command never creates a mistyped data dir.
 */
import { assertEquals, assertMatch, icn, icnExpect, sameSnapshot, snapshotDir } from "./_cli.ts";

Deno.test("a read command on a missing data dir fails naming it and does not create it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icn-nodir-" });
  try {
    for (const args of [["ledger", "balance"], ["trust", "list"], ["governance", "list"]]) {
      const run = await icn(["--data-dir", `${dir}/typo`, ...args]);
      assertEquals(run.code, 1, `${args.join(" ")}: ${run.stderr}`);
      assertMatch(run.stderr, /typo/);
      const created = await Deno.stat(`${dir}/typo`).then(() => true, () => false);
      assertEquals(created, false, `${args.join(" ")} created the data dir`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "on a read-only data dir, reads work from a snapshot and writes exit 1 saying why",
  // A read-only mount needs root (CI runs as root); a 0555 directory does not stop root.
  ignore: Deno.build.os !== "linux" || Deno.uid() !== 0,
  fn: async () => {
    const mount = await Deno.makeTempDir({ prefix: "icn-ro-" });
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount],
    }).output();
    if (!mounted.success) throw new Error("cannot mount a tmpfs as root");
    const home = `${mount}/home`;
    try {
      await icnExpect(0, ["--data-dir", home, "id", "init"]);
      const history = await icnExpect(0, ["--json", "--data-dir", home, "id", "history"]);
      // Another member's key log, to import: a store write.
      const other = await Deno.makeTempDir({ prefix: "icn-other-" });
      const bundle = `${other}/other.car`;
      await icnExpect(0, ["--data-dir", `${other}/home`, "id", "init"]);
      await icnExpect(0, ["--data-dir", `${other}/home`, "node", "export", "--out", bundle]);
      await new Deno.Command("mount", { args: ["-o", "remount,ro", mount] }).output();
      const before = await snapshotDir(home);
      const again = await icnExpect(0, ["--json", "--data-dir", home, "id", "history"]);
      assertEquals(again.json(), history.json());
      // A keystore write is refused at its lock; a store write by the read-only snapshot.
      const rotate = await icn(["--data-dir", home, "id", "rotate"]);
      const imported = await icn(["--data-dir", home, "node", "import", bundle]);
      assertMatch(imported.stderr, /Cannot write to the store: .* is read-only/);
      await Deno.remove(other, { recursive: true });
      for (const write of [rotate, imported]) {
        assertEquals(write.code, 1, write.stderr);
        assertMatch(write.stderr, /read-only/i);
        if (/bug in icn|\bat .*\.ts:\d+/.test(write.stderr)) throw new Error(write.stderr);
      }
      if (!sameSnapshot(before, await snapshotDir(home))) throw new Error("data dir changed");
    } finally {
      await new Deno.Command("umount", { args: [mount] }).output();
      await Deno.remove(mount, { recursive: true }).catch(() => {});
    }
  },
});
