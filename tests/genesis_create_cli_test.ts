/** `icn governance genesis create` never overwrites collected founder signatures by accident. */
import { assertEquals, assertMatch, icn, icnExpect } from "./_cli.ts";

Deno.test("genesis create refuses to overwrite a signed genesis file unless --force, which keeps a backup", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icn-genesis-create-" });
  try {
    const home = `${dir}/home`;
    const did = (await icnExpect(0, ["--json", "--data-dir", home, "id", "init"]))
      .json<{ did: string }>().did;
    const file = `${dir}/genesis.json`;
    const create = (...extra: string[]) =>
      icn([
        "--json",
        "--data-dir",
        home,
        "governance",
        "genesis",
        "create",
        "--name",
        "Signed coop",
        "--member",
        did,
        "--out",
        file,
        ...extra,
      ]);
    assertEquals((await create()).code, 0, "first create");
    await icnExpect(0, ["--data-dir", home, "governance", "genesis", "sign", file]);
    const signed = await Deno.readFile(file);
    const signedId = JSON.parse(new TextDecoder().decode(signed)).id as string;

    const refused = await create();
    assertEquals(refused.code, 1, refused.stderr);
    assertMatch(refused.stderr, /already exists and holds 1 founder signature\(s\)/);
    if (!refused.stderr.includes(`"${file}"`) || !refused.stderr.includes(signedId)) {
      throw new Error(`the refusal names the file and its network: ${refused.stderr}`);
    }
    assertMatch(refused.stderr, /--force/);
    assertEquals([...await Deno.readFile(file)], [...signed], "the signed file is unchanged");
    const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(before, ["genesis.json", "home"], "no backup or temp file on refusal");

    const forced = await create("--force");
    assertEquals(forced.code, 0, forced.stderr);
    const { backup } = forced.json<{ backup: string }>();
    if (!backup.startsWith(`${file}.`) || !backup.endsWith(".bak")) {
      throw new Error(`backup beside the file: ${backup}`);
    }
    assertEquals([...await Deno.readFile(backup)], [...signed], "the backup holds the signatures");
    const fresh = JSON.parse(await Deno.readTextFile(file)) as { signatures: unknown[] };
    assertEquals(fresh.signatures.length, 0, "the new genesis is unsigned");

    // A file that is not a genesis is refused too (it may be anything of the user's).
    const other = `${dir}/notes.json`;
    await Deno.writeTextFile(other, "my notes\n");
    const notes = await icn([
      "--data-dir",
      home,
      "governance",
      "genesis",
      "create",
      "--name",
      "X",
      "--out",
      other,
    ]);
    assertEquals(notes.code, 1, notes.stderr);
    assertMatch(notes.stderr, /notes\.json": it already exists — use --force/);
    assertEquals(await Deno.readTextFile(other), "my notes\n", "untouched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
