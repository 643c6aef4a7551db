/** A store that cannot be written fails with an expected error (exit 1), never a crash. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { StoreUnavailableError } from "../core/errors.ts";
import { KvStore } from "../core/store/kv_store.ts";

async function mountTmpfs(size: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "icn-tmpfs-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  }).output();
  if (!mount.success) throw new Error(`cannot mount a tmpfs on ${dir}`);
  return dir;
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir] }).output();
  await Deno.remove(dir, { recursive: true });
}

Deno.test({
  name: "a commit on a full disk is a StoreUnavailableError saying so, and reads still work",
  // Mounting a small tmpfs needs root (CI runs as root).
  ignore: Deno.build.os !== "linux" || Deno.uid() !== 0,
  fn: async () => {
    const dir = await mountTmpfs("256k");
    const store = await KvStore.open(`${dir}/icn.kv`);
    try {
      let failure: unknown = null;
      let committed = 0;
      for (let i = 0; i < 1_000 && failure === null; i++) {
        try {
          await store.commit([], [{ type: "set", key: ["k", i], value: new Uint8Array(4_000) }]);
          committed++;
        } catch (error) {
          failure = error;
        }
      }
      assert(
        failure instanceof StoreUnavailableError,
        `expected StoreUnavailableError: ${failure}`,
      );
      assert(failure.message.includes("disk is full"), failure.message);
      assert(committed > 0);
      assertEquals((await store.get(["k", 0]))?.value instanceof Uint8Array, true);
    } finally {
      store.close();
      await unmount(dir);
    }
  },
});

Deno.test("opening a store in a directory that does not exist is a StoreUnavailableError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/missing/icn.kv`;
    let failure: unknown = null;
    try {
      (await KvStore.open(path)).close();
    } catch (error) {
      failure = error;
    }
    assert(failure instanceof StoreUnavailableError, `expected StoreUnavailableError: ${failure}`);
    assert(failure.message.includes(path), failure.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
