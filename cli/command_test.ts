import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { createRegistrar, type Handler } from "./command.ts";
import type { CommandResult } from "./output.ts";

interface EchoOptions {
  times: number;
}

const echo: Handler<EchoOptions> = (_ctx, args, options) =>
  Promise.resolve({ data: args, text: args.join(" ").repeat(options.times) });

/** A handler module as `() => import("./ledger.ts")` would load it. */
const module = {
  echo,
  check: (): Promise<CommandResult> => Promise.resolve({ data: null, text: "" }),
  /** Reads `--times` and `--loud`: a command must declare both. */
  shout: echo as Handler<EchoOptions & { loud?: boolean }>,
  helperNotAHandler: (text: string): string => text,
  limitMax: 10,
};

/** `--times` as `echo` reads it: a whole number, always there. */
const times = (text: string) => Number(text);
const echoCommand = () => new Command("echo").option("--times <n>", "repeat", times, 1);

Deno.test("Registrar.action() takes only the names of a module's handlers", () => {
  const r = createRegistrar(() => Promise.resolve());
  const load = () => Promise.resolve(module);
  r.action(echoCommand(), load, "echo");
  r.action(new Command("check"), load, "check");
  // @ts-expect-error a misspelled handler name does not compile
  r.action(echoCommand(), load, "ecko");
  // @ts-expect-error an export that is not a handler is not a handler name
  r.action(echoCommand(), load, "helperNotAHandler");
  // @ts-expect-error nor is a constant
  r.action(echoCommand(), load, "limitMax");
});

Deno.test("Registrar.action() takes only a handler whose options its command declares, typed as parsed", () => {
  const r = createRegistrar(() => Promise.resolve());
  const load = () => Promise.resolve(module);
  // A handler that reads no options fits any command.
  r.action(echoCommand(), load, "check");
  r.action(echoCommand().option("--loud", "shout"), load, "shout");
  // @ts-expect-error the handler reads --times, which the command does not declare
  r.action(new Command("echo"), load, "echo");
  // @ts-expect-error an optional option the command does not declare (--loud) is refused too
  r.action(echoCommand(), load, "shout");
  // @ts-expect-error --times without a parser is a string, and the handler expects a number
  r.action(new Command("echo").option("--times <n>", "repeat", "1"), load, "echo");
  // @ts-expect-error --times without a default may be absent, and the handler expects it there
  r.action(new Command("echo").option("--times <n>", "repeat", times), load, "echo");
});

Deno.test("Registrar.action() hands the runner the named handler and the positional arguments", async () => {
  const seen: { handler: unknown; args: string[] }[] = [];
  const r = createRegistrar(async (load, args) => {
    seen.push({ handler: await load(), args });
  });
  const program = new Command("icn").exitOverride();
  program.addCommand(
    r.action(echoCommand().argument("<words...>"), () => Promise.resolve(module), "echo"),
  );
  await program.parseAsync(["echo", "a", "b"], { from: "user" });
  assert.deepEqual(seen, [{ handler: module.echo, args: ["a", "b"] }]);
});
