import assert from "node:assert/strict";
import { UsageError } from "./usage_error.ts";
import { findNetwork, type JoinedNetwork } from "./networks.ts";
import { exitCodes } from "./exit_codes.ts";

const networks: JoinedNetwork[] = [
  { id: "bafyreiaaa111", name: "Bakers", kind: "cooperative", file: "icn.kv" },
  { id: "bafyreibbb222", name: "Brewers", kind: "cooperative", file: "networks/bafyreibbb222.kv" },
  { id: "bafyreiccc333", name: "Makers", kind: "federation", file: "networks/bafyreiccc333.kv" },
];

/** The error `run` throws, checked to be a UsageError. */
function thrown(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error;
  }
  throw new Error("nothing thrown");
}

function usageError(text: string): UsageError {
  const error = thrown(() => findNetwork(networks, text));
  assert.equal(error.exitCode, exitCodes.usage);
  return error;
}

Deno.test("findNetwork() takes an id, a name or a unique start of an id", () => {
  assert.equal(findNetwork(networks, "bafyreibbb222").name, "Brewers");
  assert.equal(findNetwork(networks, "Makers").id, "bafyreiccc333");
  assert.equal(findNetwork(networks, "bafyreia").name, "Bakers");
});

Deno.test("findNetwork() refuses an unknown or ambiguous choice as a usage error listing the networks", () => {
  const unknown = usageError("Millers");
  assert.equal(unknown.code, "icn.unknownNetwork");
  for (const name of ["Bakers", "Brewers", "Makers"]) {
    if (!unknown.message.includes(name)) throw new Error(`${name} not listed: ${unknown.message}`);
  }
  const ambiguous = usageError("bafyrei");
  assert.equal(ambiguous.code, "icn.ambiguousNetwork");
  if (!ambiguous.message.includes("names 3 joined networks")) throw new Error(ambiguous.message);
});

Deno.test("findNetwork() prefers a name to a start of an id, and shows a hostile name safely", () => {
  const tricky: JoinedNetwork[] = [
    ...networks,
    { id: "zzz", name: "bafyreia", kind: "cooperative", file: "networks/zzz.kv" },
    { id: "yyy", name: "Twin", kind: "cooperative", file: "networks/yyy.kv" },
    { id: "xxx", name: "Twin", kind: "cooperative", file: "networks/xxx.kv" },
  ];
  assert.equal(findNetwork(tricky, "bafyreia").id, "zzz");
  const twin = thrown(() => findNetwork(tricky, "Twin"));
  assert.equal(twin.code, "icn.ambiguousNetwork");
  const hostile = thrown(() => findNetwork(networks, "\u001b[2Jx"));
  if (hostile.message.includes("\u001b")) throw new Error("escape reached the message");
});
