/** `deno task icn` from any directory resolves relative paths against that directory. */
import { assertEquals } from "./_cli.ts";

const configPath = new URL("../deno.json", import.meta.url).pathname;
const repoRoot = new URL("..", import.meta.url).pathname;

Deno.test("deno task icn resolves a relative --data-dir against the caller's directory", async () => {
  const caller = await Deno.makeTempDir({ prefix: "icn-caller-" });
  const name = `rel-home-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--config", configPath, "-q", "icn", "--data-dir", name, "id", "init"],
      cwd: caller,
      // As from a shell: deno task keeps an INIT_CWD it inherits (this suite runs under one).
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
        ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
        ICN_PASSPHRASE: "correct horse",
        ICN_SCRYPT_LOG_N: "10",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
    assertEquals(await exists(`${caller}/${name}/identity.age`), true, "in the caller's dir");
    assertEquals(await exists(`${repoRoot}/${name}`), false, "not in the repository root");
  } finally {
    await Deno.remove(caller, { recursive: true });
    await Deno.remove(`${repoRoot}/${name}`, { recursive: true }).catch(() => {});
  }
});
