import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert";
import { hashInputFile, OutputError, readInputFile, writeFileAtomic } from "./files.ts";

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

Deno.test("hashInputFile() streams a large file in bounded memory, with progress, and matches BLAKE2b-512 of the bytes", async () => {
  const { blake2b } = await import("@noble/hashes/blake2.js");
  const dir = await Deno.makeTempDir();
  try {
    // The independent reference (@noble/hashes) on a small file of random bytes.
    const bytes = crypto.getRandomValues(new Uint8Array(65_536)).slice();
    await Deno.writeFile(`${dir}/small.bin`, bytes);
    const small = await hashInputFile(`${dir}/small.bin`, "file");
    assertEquals(small.prehash, blake2b(bytes));
    assertEquals(small.data, bytes);
    // A sparse file above the progress threshold: streamed, not kept, progress reported.
    const path = `${dir}/large.bin`;
    const size = 65 * 1024 * 1024;
    using file = await Deno.open(path, { write: true, create: true });
    await file.truncate(size);
    let clock = 0;
    const progress: number[] = [];
    const large = await hashInputFile(path, "file", {
      onProgress: (done) => progress.push(done),
      now: () => (clock += 1_000),
      keepBytesMax: 1024,
    });
    assertEquals(large.data, undefined, "bytes above keepBytesMax are not kept");
    assertEquals(large.prehash.length, 64);
    assert(progress.length > 0 && progress.every((done) => done <= size), `${progress}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashInputFile() and readInputFile() refuse endless input: a device is not a file to sign, and reads stop at their limit", async () => {
  await assertRejects(() => hashInputFile("/dev/zero", "file to sign"), /not a regular file/);
  await assertRejects(
    () => readInputFile("/dev/zero", "passphrase file", { bytesMax: 4096 }),
    /over 4096/,
  );
  await assertRejects(() => readInputFile("/dev/zero", "genesis"), /limit is/);
});
