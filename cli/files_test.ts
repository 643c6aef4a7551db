import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { OutputError, writeFileAtomic } from "./files.ts";

const data = new TextEncoder().encode("hello\n");

async function refusal(path: string, bytes = data): Promise<string> {
  try {
    await writeFileAtomic(path, bytes, 0o644);
  } catch (error) {
    assert(error instanceof OutputError, `expected an OutputError, got ${error}`);
    return error.message;
  }
  throw new Error(`writing ${path} succeeded`);
}

async function tempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".tmp")) out.push(entry.name);
  }
  return out;
}

Deno.test("writeFileAtomic() names the user's path and the cause, never its temp file, and leaves none behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await refusal(`${dir}/no/such/out.txt`);
    assert(
      missing.includes(`${dir}/no/such/out.txt`) && missing.includes("does not exist"),
      missing,
    );
    const isDir = await refusal(dir);
    assert(isDir.includes("is a directory"), isDir);
    await Deno.writeTextFile(`${dir}/ro.txt`, "keep");
    await Deno.chmod(`${dir}/ro.txt`, 0o444);
    const readOnly = await refusal(`${dir}/ro.txt`);
    assert(readOnly.includes("read-only"), readOnly);
    assertEquals(await Deno.readTextFile(`${dir}/ro.txt`), "keep");
    const full = await refusal("/dev/full");
    assert(full.includes('"/dev/full"') && full.includes("no space left"), full);
    for (const message of [missing, isDir, readOnly, full]) {
      assert(!message.includes(".tmp"), message);
    }
    assertEquals(await tempFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() writes a device in place instead of renaming over it", async () => {
  await writeFileAtomic("/dev/null", data, 0o644);
  assert((await Deno.stat("/dev/null")).isCharDevice);
});

Deno.test("writeFileAtomic() replaces a file atomically with the requested mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/out.txt`, "old");
    await writeFileAtomic(`${dir}/out.txt`, data, 0o600);
    assertEquals(await Deno.readTextFile(`${dir}/out.txt`), "hello\n");
    assertEquals((await Deno.stat(`${dir}/out.txt`)).mode! & 0o777, 0o600);
    assertEquals(await tempFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A tiny tmpfs: only root can mount one; elsewhere the device test above covers ENOSPC. */
async function tinyTmpfs(): Promise<string | null> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return null;
  const dir = await Deno.makeTempDir();
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
    stderr: "null",
  }).output().catch(() => null);
  if (!mount?.success) {
    await Deno.remove(dir);
    return null;
  }
  return dir;
}

Deno.test("writeFileAtomic() in a read-only directory fails naming the path, not a temp file", async () => {
  // root writes into a 0555 directory regardless, so root gets a read-only tmpfs instead.
  const mounted = await tinyTmpfs();
  const dir = mounted ?? await Deno.makeTempDir();
  try {
    if (mounted) {
      await new Deno.Command("mount", { args: ["-o", "remount,ro", dir] }).output();
    } else {
      await Deno.chmod(dir, 0o555);
    }
    const message = await refusal(`${dir}/out.txt`);
    assert(message.includes(`${dir}/out.txt`) && !message.includes(".tmp"), message);
    assert(/permission denied|read-only/.test(message), message);
  } finally {
    if (mounted) {
      await new Deno.Command("umount", { args: [dir] }).output();
    } else {
      await Deno.chmod(dir, 0o755);
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "writeFileAtomic() on a full disk fails naming the path, keeps the old file and leaves no temp file",
  // Mounting a tiny tmpfs needs root (CI runs as root); elsewhere /dev/full above covers ENOSPC.
  ignore: Deno.build.os !== "linux" || Deno.uid() !== 0,
  fn: async () => {
    const dir = await tinyTmpfs();
    if (!dir) throw new Error("cannot mount a tmpfs as root");
    try {
      await Deno.writeTextFile(`${dir}/out.bin`, "old");
      const message = await refusal(`${dir}/out.bin`, new Uint8Array(256 * 1024));
      assert(message.includes(`${dir}/out.bin`) && message.includes("no space left"), message);
      assert(!message.includes(".tmp"), message);
      assertEquals(await Deno.readTextFile(`${dir}/out.bin`), "old");
      assertEquals(await tempFiles(dir), []);
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
