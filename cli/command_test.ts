import assert from "node:assert/strict";
import { Command } from "commander";
import { createRegistrar, type Handler } from "./command.ts";
import type { CommandResult } from "./output.ts";

interface EchoOptions {
  times: number;
}

/** A handler module as `() => import("./ledger.ts")` would load it. */
const module = {
  echo:
    ((_ctx, args, options) =>
      Promise.resolve({ data: args, text: args.join(" ").repeat(options.times) })) as Handler<
        EchoOptions
      >,
  check: (): Promise<CommandResult> => Promise.resolve({ data: null, text: "" }),
  helperNotAHandler: (text: string): string => text,
  limitMax: 10,
};

Deno.test("Registrar.action() takes only the names of a module's handlers", () => {
  const r = createRegistrar(() => Promise.resolve());
  const load = () => Promise.resolve(module);
  r.action(new Command("echo"), load, "echo");
  r.action(new Command("check"), load, "check");
  // @ts-expect-error a misspelled handler name does not compile
  r.action(new Command("echo"), load, "ecko");
  // @ts-expect-error an export that is not a handler is not a handler name
  r.action(new Command("echo"), load, "helperNotAHandler");
  // @ts-expect-error nor is a constant
  r.action(new Command("echo"), load, "limitMax");
});

Deno.test("Registrar.action() hands the runner the named handler and the positional arguments", async () => {
  const seen: { handler: unknown; args: string[] }[] = [];
  const r = createRegistrar(async (load, args) => {
    seen.push({ handler: await load(), args });
  });
  const program = new Command("icn").exitOverride();
  program.addCommand(
    r.action(new Command("echo").argument("<words...>"), () => Promise.resolve(module), "echo"),
  );
  await program.parseAsync(["echo", "a", "b"], { from: "user" });
  assert.deepEqual(seen, [{ handler: module.echo, args: ["a", "b"] }]);
});
