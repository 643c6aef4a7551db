/** Completions are generated from the command tree and loaded into real shells. */
import {
  bashCompletion,
  type CommandSpec,
  fishCompletion,
  flattenCommands,
  zshCompletion,
} from "../cli/completions.ts";
import { describeCli } from "../cli/main.ts";
import { requireTool } from "./_tools.ts";

const mainPath = new URL("../cli/main.ts", import.meta.url).pathname;

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

let tree: CommandSpec | undefined;
async function cli(): Promise<CommandSpec> {
  tree ??= await describeCli();
  return tree;
}

/** What bash's completion function offers for the words typed so far (the last one may be partial). */
async function bashComplete(script: string, words: string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/icn.bash`, script);
    const quoted = words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(" ");
    const program = `source '${dir}/icn.bash'
COMP_WORDS=(icn ${quoted}); COMP_CWORD=${words.length}; COMP_LINE="icn ${words.join(" ")}"
COMP_POINT=\${#COMP_LINE}
_icn
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const output = await new Deno.Command("bash", {
      args: ["--norc", "--noprofile", "-c", program],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert(output.success, `bash failed: ${stderr}`);
    assert(stderr === "", `bash wrote to stderr: ${stderr}`);
    return new TextDecoder().decode(output.stdout).split("\n").filter((l) => l.length > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bash completion offers the id subcommands after `icn id `", async () => {
  const replies = await bashComplete(bashCompletion(await cli()), ["id", ""]);
  for (const name of ["init", "show", "sign", "verify", "export"]) {
    assert(replies.includes(name), `expected "${name}" in ${JSON.stringify(replies)}`);
  }
  assert(!replies.includes("ledger"), "top-level commands must not be offered after `icn id`");
});

Deno.test("bash completion completes a partial subcommand such as `icn ledger tr`", async () => {
  const root = await cli();
  const ledger = root.commands.find((c) => c.path[0] === "ledger")!;
  const expected = ledger.commands.map((c) => c.path[1]).filter((n) => n.startsWith("tr"));
  const replies = await bashComplete(bashCompletion(root), ["ledger", "tr"]);
  assert(
    JSON.stringify(replies.sort()) === JSON.stringify(expected.sort()),
    `expected ${JSON.stringify(expected)}, got ${JSON.stringify(replies)}`,
  );
});

Deno.test("bash completion reaches every command of the tree, nested ones too", async () => {
  const root = await cli();
  const script = bashCompletion(root);
  for (const spec of flattenCommands(root)) {
    for (const child of spec.commands) {
      const name = child.path.at(-1)!;
      const replies = await bashComplete(script, [...spec.path, name.slice(0, 2)]);
      assert(
        replies.includes(name),
        `"icn ${spec.path.join(" ")} ${name.slice(0, 2)}" → ${replies}`,
      );
    }
  }
});

Deno.test("bash completion offers a command's own options and the global ones", async () => {
  const replies = await bashComplete(bashCompletion(await cli()), ["id", "sign", "--"]);
  for (const flag of ["--out", "--comment", "--json", "--data-dir", "--help"]) {
    assert(replies.includes(flag), `expected ${flag} in ${JSON.stringify(replies)}`);
  }
});

Deno.test("bash completion offers the shells after `icn completions `", async () => {
  const replies = await bashComplete(bashCompletion(await cli()), ["completions", ""]);
  for (const shell of ["bash", "zsh", "fish"]) assert(replies.includes(shell), `${shell} missing`);
});

Deno.test("bash completion completes file names for an option that takes a value", async () => {
  const replies = await bashComplete(bashCompletion(await cli()), ["--data-dir", "icn.b"]);
  assert(
    replies.includes("icn.bash"),
    `expected the file icn.bash, got ${JSON.stringify(replies)}`,
  );
});

Deno.test("zsh completion names every command path and loads in zsh when it is installed", async () => {
  const root = await cli();
  const script = zshCompletion(root);
  assert(script.startsWith("#compdef icn"), "zsh script must start with #compdef");
  for (const spec of flattenCommands(root).slice(1)) {
    assert(script.includes(`'${spec.path.join(" ")}'`), `missing ${spec.path.join(" ")}`);
  }
  if (requireTool("zsh", "zsh loads the zsh completion")) {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/_icn`, script);
    const output = await new Deno.Command("zsh", { args: ["-n", `${dir}/_icn`] }).output();
    assert(output.success, new TextDecoder().decode(output.stderr));
    // Outside a completion widget: stub compdef/compadd/_files and call _icn with words/CURRENT.
    const candidates = async (words: string[]) => {
      const program = `compdef() { :; }
compadd() { [[ "$1" == "--" ]] && shift; print -l -- "$@"; }
_files() { print FILES; }
source '${dir}/_icn'
words=(icn ${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length + 1}
_icn`;
      const run = await new Deno.Command("zsh", { args: ["-f", "-c", program], stdout: "piped" })
        .output();
      return new TextDecoder().decode(run.stdout).split("\n").filter((l) => l.length > 0);
    };
    try {
      const id = await candidates(["id", ""]);
      for (const name of ["init", "show", "sign"]) assert(id.includes(name), `zsh: ${id}`);
      assert(!id.includes("ledger"), "zsh offers only id's subcommands");
      const ledger = await candidates(["ledger", "tr"]);
      const expected = root.commands.find((c) => c.path[0] === "ledger")!.commands.map((c) =>
        c.path[1]
      );
      for (const name of expected) assert(ledger.includes(name), `zsh ledger: ${ledger}`);
      assert((await candidates(["--data-dir", ""])).includes("FILES"), "zsh: files for --data-dir");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("fish completion has a line for every subcommand and parses in fish when installed", async () => {
  const root = await cli();
  const script = fishCompletion(root);
  for (const spec of flattenCommands(root).slice(1)) {
    assert(
      script.includes(`-a '${spec.path.at(-1)}'`),
      `fish script misses ${spec.path.join(" ")}`,
    );
  }
  if (requireTool("fish", "fish loads the fish completion")) {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/icn.fish`, script);
    const output = await new Deno.Command("fish", { args: ["-n", `${dir}/icn.fish`] }).output();
    assert(output.success, new TextDecoder().decode(output.stderr));
    const complete = async (line: string) => {
      const run = await new Deno.Command("fish", {
        args: ["--no-config", "-c", `source '${dir}/icn.fish'; complete -C '${line}'`],
        stdout: "piped",
      }).output();
      return new TextDecoder().decode(run.stdout).split("\n").map((l) => l.split("\t")[0])
        .filter((l) => l.length > 0);
    };
    try {
      const id = await complete("icn id ");
      for (const name of ["init", "show", "sign"]) assert(id.includes(name), `fish: ${id}`);
      assert(!id.includes("ledger"), "fish offers only id's subcommands");
      const ledger = root.commands.find((c) => c.path[0] === "ledger")!;
      const expected = ledger.commands.map((c) => c.path[1]).filter((n) => n.startsWith("tr"));
      const got = await complete("icn ledger tr");
      assert(JSON.stringify(got.sort()) === JSON.stringify(expected.sort()), `fish: ${got}`);
      assert((await complete("icn id sign --o")).includes("--out"), "fish: options");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("icn completions rejects an unknown shell with a usage error", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainPath, "completions", "powershell"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(output.code === 2, `exit code ${output.code}`);
  const stderr = new TextDecoder().decode(output.stderr);
  assert(stderr.includes("powershell"), stderr);
  assert(output.stdout.length === 0, "nothing on stdout");
});

Deno.test("icn completions bash prints the same script the tree generates", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainPath, "completions", "bash"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  const printed = new TextDecoder().decode(output.stdout);
  assert(printed === bashCompletion(await cli()), "printed script differs from the generator");
});
