/**
 * Handlers of `icn federation`: the federation genesis (create, sign, join), then, in a joined
 * federation network, proposals and votes cast for a cooperative by its delegates, the
 * delegate sets the cooperatives' own governance chose, and vouches between cooperatives.
 *
 * A federation is one of the data dir's networks (cli/networks.ts), with a store of its own;
 * every command here takes `--net` for which federation, defaulting to the only one joined
 * (not the only network: a delegate's data dir also holds its cooperative). A command acts
 * for one cooperative, the one the caller is a delegate of (`--for` when several).
 */
import { StateOverlay } from "../core/chain/state.ts";
import { pageSizeDefault } from "../core/constants.ts";
import {
  AlreadyExistsError,
  IcnError,
  InvalidInputError,
  InvalidSignatureError,
  NotFoundError,
  RejectedError,
} from "../core/errors.ts";
import {
  addFederationSignature,
  checkDelegatesCitation,
  checkFederationFile,
  createFederationGenesis,
  delegatesCitationFor,
  type FederationCheck,
  type FederationFile,
  federationFileBytesMax,
  type FederationGenesis,
  federationKeys,
  type FederationMember,
  federationParams,
  type FederationProposalKind,
  federationProposalKinds,
  type FederationProposalRecord,
  federationRulesFor,
  federationSigningBytes,
  FederationView,
  joinFederation,
  type MembersOf,
  serializeFederationFile,
  validateFederationParam,
} from "../core/federation/mod.ts";
import {
  checkGenesisFile,
  type GenesisFile,
  genesisFileBytesMax,
  parseCurrency,
} from "../core/governance/genesis.ts";
import { GovernanceView } from "../core/governance/view.ts";
import { parseDid } from "../core/identity/did.ts";
import { signEd25519 } from "../core/identity/keys.ts";
import { formatDuration, type Params, type ParamValue, parseDuration } from "../core/params.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { formatScore } from "../core/trust/edge.ts";
import { bytesEqual } from "../core/bytes.ts";
import { CommanderError } from "commander";
import { contactLabels, resolveDid, resolveDids } from "./contacts.ts";
import type { CliContext, SubmitResult } from "./context.ts";
import { exitCodes } from "./exit_codes.ts";
import { keepBackup, readInputText, writeFileAtomic } from "./files.ts";
import {
  joinAnotherNetwork,
  type JoinedNetwork,
  joinedNetworks,
  type OpenNetwork,
  openNetwork,
} from "./networks.ts";
import type { CommandResult } from "./output.ts";
import {
  type FederationBallotOptions,
  type FederationMethodOptions,
  methodLines,
  proposalExtras,
  voteContent,
  voteHint,
} from "./federation_methods.ts";
import { describeBallot } from "./governance_methods.ts";

// ---------------------------------------------------------------------------------------------
// Files: cooperative genesis files in, federation files in and out.

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Reads a cooperative's genesis file and checks it in full: every founder must have signed. */
async function readCooperativeGenesis(
  path: string,
  what: string,
): Promise<{ file: GenesisFile; id: string }> {
  const text = await readInputText(path, what, { bytesMax: genesisFileBytesMax });
  let checked;
  try {
    checked = await checkGenesisFile(text);
  } catch (error) {
    throw renamed(error, `Cannot use ${what} ${path}`);
  }
  if (checked.check.missing.length > 0) {
    throw new InvalidSignatureError(
      `Cannot use ${what} ${path}: ${checked.check.missing.length} founder(s) of "${
        terminalSafe(checked.file.genesis.name)
      }" have not signed it, so that cooperative does not exist yet`,
    );
  }
  return { file: checked.file, id: checked.check.id };
}

/** A core refusal with the file named, keeping its class (invalid input, invalid signature). */
function renamed(error: unknown, prefix: string): unknown {
  if (!(error instanceof IcnError)) return error;
  const message = `${prefix}: ${error.message}`;
  return error instanceof InvalidSignatureError
    ? new InvalidSignatureError(message, { cause: error })
    : new InvalidInputError(message, { cause: error });
}

/** Reads and verifies a federation file (`partial`: signatures may still be missing). */
async function readFederationFile(
  ctx: CliContext,
  path: string,
  partial: boolean,
): Promise<{ file: FederationFile; check: FederationCheck; membersOf: MembersOf }> {
  const text = await readInputText(path, "federation file", { bytesMax: federationFileBytesMax });
  const membersOf = await heldMembers(ctx);
  try {
    const { file, check } = await checkFederationFile(text, { membersOf, partial });
    return { file, check, membersOf };
  } catch (error) {
    throw renamed(error, `Cannot use federation file ${path}`);
  }
}

/**
 * Current members of the cooperatives this data dir holds, so that a delegate admitted after
 * its cooperative's genesis is accepted (and a founder who left is not); the others are judged
 * by the founders in their genesis. No data dir or no store: none held.
 */
async function heldMembers(ctx: CliContext): Promise<MembersOf> {
  const held = new Map<string, ReadonlySet<string>>();
  if ((await ctx.storeExists()) && !ctx.storeLocation.remote) {
    const now = ctx.clock.now();
    for (const network of await joinedNetworks(ctx)) {
      if (network.kind !== "cooperative") continue;
      const { id, genesis, store } = await ctx.network(network.id);
      held.set(id, await new GovernanceView(new StateOverlay(store), genesis).membersAt(now));
    }
  }
  return (net) => held.get(net);
}

/** Parses `--set KEY=VALUE` for a federation parameter into its typed value. */
function parseFederationSet(assignment: string): [string, ParamValue] {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new InvalidInputError(`Cannot parse --set "${assignment}": use KEY=VALUE`);
  const key = assignment.slice(0, eq);
  const text = assignment.slice(eq + 1);
  const def = federationParams.find((d) => d.key === key);
  if (!def) {
    throw new InvalidInputError(
      `Unknown federation parameter "${terminalSafe(key)}" in --set: keys are ${
        federationParams.map((d) => d.key).join(", ")
      }`,
    );
  }
  let value: ParamValue = text;
  if (def.type === "duration") value = parseDuration(text);
  else if (def.type !== "enum") {
    if (!/^\d+(\.\d+)?$/.test(text)) {
      throw new InvalidInputError(`Cannot set "${key}" to "${text}": expected a number`);
    }
    value = Number(text);
  }
  validateFederationParam(key, value);
  return [key, value];
}

/** `federation create`'s options (declared in cli/federation_commands.ts). */
export interface CreateOptions {
  name: string;
  coop: string[];
  delegate: string[];
  currency: string[];
  set: string[];
  out?: string;
  force?: boolean;
}

export async function create(
  ctx: CliContext,
  _args: string[],
  options: CreateOptions,
): Promise<CommandResult> {
  const founders: { file: GenesisFile; id: string; path: string }[] = [];
  for (const path of options.coop) {
    const { file, id } = await readCooperativeGenesis(path, "cooperative genesis");
    const twice = founders.find((f) => f.id === id);
    if (twice) {
      throw new InvalidInputError(
        `Cannot use cooperative genesis ${path}: it is the same cooperative as ${twice.path} (${id})`,
      );
    }
    founders.push({ file, id, path });
  }
  const params: Params = {};
  for (const assignment of options.set) {
    const [key, value] = parseFederationSet(assignment);
    params[key] = value;
  }
  const currencies = options.currency.map(parseCurrency);
  const delegates = new Map<string, string[]>(founders.map((f) => [f.id, []]));
  for (const text of options.delegate) {
    const eq = text.indexOf("=");
    if (eq <= 0) {
      throw new InvalidInputError(
        `Cannot use --delegate "${
          terminalSafe(text)
        }": use COOP=DID (COOP: a name or id of a --coop)`,
      );
    }
    const coopText = text.slice(0, eq);
    const matches = founders.filter((f) =>
      f.id === coopText || f.file.genesis.name === coopText ||
      (coopText.length >= 8 && f.id.startsWith(coopText))
    );
    if (matches.length !== 1) {
      throw new InvalidInputError(
        `Cannot use --delegate "${terminalSafe(text)}": ${
          matches.length === 0 ? "no" : "more than one"
        } cooperative given with --coop is named "${terminalSafe(coopText)}" or has that id`,
      );
    }
    const did = await resolveDid(ctx, text.slice(eq + 1), { what: "--delegate" });
    delegates.get(matches[0].id)!.push(did);
  }
  // A founder given no delegate gets the caller, when the caller is one of its members.
  let own: string | undefined;
  try {
    own = (await ctx.readPublicIdentity()).did;
  } catch {
    // No identity in this data dir: every founder needs its --delegate.
  }
  for (const founder of founders) {
    const list = delegates.get(founder.id)!;
    if (list.length > 0) continue;
    if (own !== undefined && founder.file.genesis.members.includes(own)) list.push(own);
    else {
      throw new InvalidInputError(
        `Cannot create federation "${terminalSafe(options.name)}": cooperative "${
          terminalSafe(founder.file.genesis.name)
        }" has no delegate; give --delegate "${
          terminalSafe(founder.file.genesis.name)
        }=DID" (a member of it)`,
      );
    }
  }
  const file = await createFederationGenesis({
    name: options.name,
    created: ctx.clock.now(),
    founders: founders.map((f) => ({ genesisFile: f.file, delegates: delegates.get(f.id)! })),
    currencies,
    params,
    membersOf: await heldMembers(ctx),
  });
  const out = options.out ?? "federation.json";
  const backup = await replaceableFile(out, options.force === true, ctx.clock.now());
  await writeFileAtomic(out, new TextEncoder().encode(serializeFederationFile(file)), 0o644);
  const g = file.genesis;
  return {
    data: { file: out, id: file.id, coops: g.coops, backup: backup ?? null },
    text: [
      `Wrote federation "${terminalSafe(g.name)}" to ${out}`,
      `  network id: ${file.id}`,
      ...g.coops.map((c) =>
        `  ${terminalSafe(c.name)} (${c.net}): delegates ${c.delegates.join(", ")}`
      ),
      `  a delegate of each cooperative signs: icn federation sign ${out}`,
      ...(backup ? [`  previous ${out} kept as ${backup}`] : []),
    ],
  };
}

/** A file at `out` may hold delegates' signatures: replaced only with `--force`, kept as a backup. */
async function replaceableFile(
  out: string,
  force: boolean,
  now: number,
): Promise<string | undefined> {
  if (out === "-") return undefined;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(out);
  } catch {
    return undefined;
  }
  if (!info.isFile) return undefined;
  if (force) return await keepBackup(out, now, 0o644);
  throw new AlreadyExistsError(
    `Cannot write the federation to "${out}": it already exists — use --force to replace it (the old file is kept as a backup), or --out another file`,
  );
}

export async function sign(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const [path] = args;
  const { file, check } = await readFederationFile(ctx, path, true);
  const unlocked = await ctx.unlock();
  // Verifiers check the signature against the DID itself: the inception key.
  if (!bytesEqual(parseDid(unlocked.did), unlocked.ed25519.publicKey)) {
    throw new InvalidSignatureError(
      "Cannot sign a federation genesis after key rotation: delegates sign with their inception key",
    );
  }
  const coops = file.genesis.coops.filter((c) => c.delegates.includes(unlocked.did));
  if (coops.length === 0) {
    throw new InvalidSignatureError(
      `Cannot sign ${path}: ${unlocked.did} is not a delegate of any founder of "${
        terminalSafe(file.genesis.name)
      }"`,
    );
  }
  const signature = await signEd25519(unlocked.ed25519, federationSigningBytes(file.genesis));
  let signed = file;
  for (const coop of coops) {
    signed = addFederationSignature(signed, { coop: coop.net, did: unlocked.did, signature });
  }
  await writeFileAtomic(path, new TextEncoder().encode(serializeFederationFile(signed)), 0o644);
  const names = new Map(file.genesis.coops.map((c) => [c.net, c.name]));
  const missing = check.missing.filter((net) => !coops.some((c) => c.net === net));
  return {
    data: {
      file: path,
      id: check.id,
      signedBy: unlocked.did,
      for: coops.map((c) => c.net),
      missing,
    },
    text: [
      `Signed ${path} for ${coops.map((c) => `"${terminalSafe(c.name)}"`).join(", ")}`,
      missing.length === 0
        ? `  every founder has signed (join with: icn federation join ${path})`
        : `  still to sign: ${missing.map((n) => `"${terminalSafe(names.get(n)!)}"`).join(", ")}`,
    ],
  };
}

export async function join(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const [path] = args;
  const { file, check, membersOf } = await readFederationFile(ctx, path, false);
  const g = file.genesis;
  const joined = await joinAnotherNetwork(ctx, {
    id: check.id,
    name: g.name,
    kind: "federation",
    join: (store) => joinFederation(store, file, { membersOf }),
  });
  if (joined.status === "elsewhere") {
    // A new network gets a store of its own: only a data dir's home store can be elsewhere.
    throw new AlreadyExistsError(
      `Cannot join federation ${check.id}: its store already belongs to network ${joined.network}`,
    );
  }
  const already = joined.status === "already";
  return {
    data: { id: check.id, name: g.name, joined: !already, already, coops: g.coops.length },
    text: already
      ? `Already joined federation "${terminalSafe(g.name)}" (${check.id})`
      : `Joined federation "${
        terminalSafe(g.name)
      }" (network ${check.id}, ${g.coops.length} cooperatives: ${
        g.coops.map((c) => terminalSafe(c.name)).join(", ")
      })`,
  };
}

// ---------------------------------------------------------------------------------------------
// A joined federation.

export interface Federation {
  network: OpenNetwork;
  genesis: FederationGenesis;
  view: FederationView;
}

function usage(code: string, message: string): CommanderError {
  return new CommanderError(exitCodes.usage, code, message);
}

/**
 * The federation `net` names (a joined network's name, id or id prefix), else the only joined
 * federation; its store becomes the command's (`ctx.useNetwork`). `what` says what the
 * command was doing, for a refusal that names its inputs.
 */
export async function openFederation(
  ctx: CliContext,
  net: string | undefined,
  what: string,
): Promise<Federation> {
  const networks = await joinedNetworks(ctx);
  let chosen: JoinedNetwork;
  if (net !== undefined) {
    const { findNetwork } = await import("./networks.ts");
    chosen = findNetwork(networks, net);
    if (chosen.kind !== "federation") {
      throw new InvalidInputError(
        `Cannot ${what}: --net "${terminalSafe(net)}" is the cooperative "${
          terminalSafe(chosen.name)
        }", not a federation`,
      );
    }
  } else {
    const federations = networks.filter((n) => n.kind === "federation");
    if (federations.length === 0) {
      throw new NotFoundError(
        `Cannot ${what}: this data dir has joined no federation (run \`icn federation join FILE\`)`,
      );
    }
    if (federations.length > 1) {
      throw usage(
        "icn.networkNotChosen",
        `Cannot ${what}: this data dir has joined ${federations.length} federations; choose one with --net:\n${
          federations.map((f) => `  ${terminalSafe(f.name).padEnd(20)} ${f.id}`).join("\n")
        }`,
      );
    }
    chosen = federations[0];
  }
  ctx.useNetwork(chosen.id);
  const network = await openNetwork(ctx, chosen);
  const genesis = (await network.store.get<FederationGenesis>(federationKeys.genesis))?.value;
  if (!genesis) {
    throw new NotFoundError(`Federation genesis of ${chosen.id} is missing from its store`);
  }
  return { network, genesis, view: new FederationView(new StateOverlay(network.store), genesis) };
}

/**
 * Signs and commits one envelope in the federation network: through the running node when one
 * runs on this data dir (it serves every joined network; the request names which), else here.
 */
export async function submitIn(
  ctx: CliContext,
  fed: Federation,
  request: { kind: string; body: unknown },
): Promise<SubmitResult> {
  const { findRunningNode, submitViaNode } = await import("./node_client.ts");
  const node = await findRunningNode(ctx);
  let result: SubmitResult;
  if (node) {
    // The node serves every joined network: the request names the federation's.
    const routed = { ...request, net: fed.network.id };
    result = await submitViaNode(ctx, node, routed);
  } else {
    const { readCatchUp, catchUpRefusal } = await import("../core/identity/catch_up.ts");
    const marker = await readCatchUp(await ctx.homeStore(), (await ctx.readPublicIdentity()).did);
    if (marker) throw catchUpRefusal(marker, fed.network.id, "cli");
    const signing = await ctx.unlockForSigning();
    const { appendLocal } = await import("../core/chain/append.ts");
    const { sealed, outcome } = await appendLocal(
      {
        store: fed.network.store,
        clock: ctx.clock,
        kinds: await fed.network.kinds(),
        logger: ctx.logger,
      },
      signing.signer,
      { net: fed.network.id, kind: request.kind, body: request.body },
    );
    result = { cid: sealed.cid, envelope: sealed.envelope, outcome };
  }
  if (result.outcome.status === "rejected") {
    throw new RejectedError(result.outcome.reason, result.outcome.message);
  }
  return result;
}

/** ` on behalf of "COOP"` when `--for` was given: refusals name what the caller typed. */
export function forPhrase(forText: string | undefined): string {
  return forText === undefined ? "" : ` on behalf of "${terminalSafe(forText)}"`;
}

/** The cooperative `text` names among `coops`: its network id, its name, or a unique id prefix. */
export function findCoop(
  coops: Map<string, FederationMember>,
  text: string,
  fed: FederationGenesis,
  what: string,
): FederationMember {
  const byId = coops.get(text);
  if (byId) return byId;
  const all = [...coops.values()];
  const byName = all.filter((c) => c.name === text);
  const matches = byName.length > 0
    ? byName
    : text.length >= 8
    ? all.filter((c) => c.net.startsWith(text))
    : [];
  if (matches.length === 1) return matches[0];
  throw new NotFoundError(
    `Cannot ${what}: ${matches.length === 0 ? "no" : "more than one"} cooperative of federation "${
      terminalSafe(fed.name)
    }" is named "${terminalSafe(text)}" or has that id (see \`icn federation members\`)`,
  );
}

/**
 * The cooperative the caller acts for: `--for`, else the only one the caller is a delegate of
 * now. Refused when the caller is not its delegate (the federation would refuse it too).
 */
export async function actingCoop(
  ctx: CliContext,
  fed: Federation,
  forText: string | undefined,
  what: string,
): Promise<{ coop: FederationMember; did: string }> {
  const { did } = await ctx.readPublicIdentity();
  const now = ctx.clock.now();
  const coops = await fed.view.coopsAt(now);
  if (forText !== undefined) {
    const coop = findCoop(coops, forText, fed.genesis, what);
    const current = await fed.view.delegatesAt(coop.net, now);
    if (!current?.delegates.includes(did)) {
      throw new RejectedError(
        "not_delegate",
        `Cannot ${what}: "${did}" is not one of the delegates of "${terminalSafe(coop.name)}"`,
      );
    }
    return { coop, did };
  }
  const mine: FederationMember[] = [];
  for (const coop of coops.values()) {
    if ((await fed.view.delegatesAt(coop.net, now))?.delegates.includes(did)) mine.push(coop);
  }
  if (mine.length === 1) return { coop: mine[0], did };
  if (mine.length === 0) {
    throw new RejectedError(
      "not_delegate",
      `Cannot ${what}: "${did}" is not a delegate of any cooperative of federation "${
        terminalSafe(fed.genesis.name)
      }"`,
    );
  }
  throw usage(
    "icn.coopNotChosen",
    `Cannot ${what}: you are a delegate of ${mine.length} cooperatives; choose one with --for: ${
      mine.map((c) => `"${terminalSafe(c.name)}"`).join(", ")
    }`,
  );
}

export async function allProposals(view: FederationView): Promise<FederationProposalRecord[]> {
  const out: FederationProposalRecord[] = [];
  for (const kind of federationProposalKinds) {
    for (const entry of await view.index(kind)) {
      const record = await view.proposal(entry.id);
      if (record) out.push(record);
    }
  }
  return out;
}

/** A full proposal id or a unique prefix of one. */
export async function resolveProposal(
  view: FederationView,
  id: string,
): Promise<FederationProposalRecord> {
  const exact = await view.proposal(id);
  if (exact) return exact;
  if (id.length >= 6) {
    const matches = (await allProposals(view)).filter((r) => r.id.startsWith(id));
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw new InvalidInputError(
        `Proposal id prefix "${id}" matches ${matches.length} proposals; give more characters`,
      );
    }
  }
  throw new NotFoundError(
    `No federation proposal "${terminalSafe(id)}" (see \`icn federation list\`)`,
  );
}

/** Open, Revealing (secret), then its outcome; Executed once an accepted one takes effect. */
function stateOf(view: FederationView, record: FederationProposalRecord, now: number) {
  return view.stateOf(record, now);
}

function describeAction(record: FederationProposalRecord): string {
  const action = record.action as Record<string, unknown>;
  switch (record.kind) {
    case "admit":
      return `admit "${terminalSafe(String(action.name))}" (${record.target}), delegates ${
        (action.delegates as string[]).join(", ")
      }`;
    case "remove":
      return `remove ${action.coop}`;
    case "config":
      return Object.entries(action.set as Params).map(([k, v]) => `${k}=${v}`).join(", ");
    case "clearing":
      return `clearing ${
        action.end ? "ends" : "agreement"
      }: ${action.coopA} (rate ${action.rateA}) and ${action.coopB} (rate ${action.rateB}), limit ${action.limit}, settle every ${
        formatDuration(Number(action.settlementInterval))
      }`;
    default:
      return "none";
  }
}

/** `federation propose`'s options. */
export interface ProposeOptions extends FederationMethodOptions {
  kind: FederationProposalKind;
  title: string;
  body?: string;
  admit?: string;
  coopName?: string;
  delegate: string[];
  remove?: string;
  set: string[];
  for?: string;
  net?: string;
}

export async function propose(
  ctx: CliContext,
  _args: string[],
  options: ProposeOptions,
): Promise<CommandResult> {
  const { kind, title } = options;
  // Everything that needs no store first, so a bad input is named before anything is opened.
  let text = "";
  if (options.body) {
    text = await readInputText(options.body, "proposal body", {
      bytesMax: (await import("../core/federation/kinds.ts")).bodyBytesMax,
    });
    if (text.trim() === "") {
      throw new InvalidInputError(
        `Cannot use proposal body ${options.body}: it is empty (leave out --body for a title only)`,
      );
    }
  }
  const admitted = options.admit === undefined
    ? undefined
    : await readCooperativeGenesis(options.admit, "admitted cooperative's genesis");
  const set: Params = {};
  for (const assignment of options.set) {
    const [key, value] = parseFederationSet(assignment);
    set[key] = value;
  }
  const notFor = (flag: string, value: string): never => {
    throw new InvalidInputError(
      `Option ${flag} "${terminalSafe(value)}" does not apply to a ${kind} proposal`,
    );
  };
  if (kind !== "admit") {
    if (options.admit !== undefined) notFor("--admit", options.admit);
    if (options.coopName !== undefined) notFor("--coop-name", options.coopName);
    if (options.delegate.length > 0) notFor("--delegate", options.delegate[0]);
  }
  if (kind !== "remove" && options.remove !== undefined) notFor("--remove", options.remove);
  if (kind !== "config" && options.set.length > 0) notFor("--set", options.set[0]);
  const extras = proposalExtras(kind, { ...options, option: options.option ?? [] });
  const what = `propose "${terminalSafe(title)}"${forPhrase(options.for)}`;
  const fed = await openFederation(ctx, options.net, what);
  // After the federation is chosen: a contact prefix is looked up in the command's store.
  const delegates = [...new Set(await resolveDids(ctx, options.delegate, { what: "--delegate" }))]
    .sort();
  const now = ctx.clock.now();
  let action: Record<string, unknown>;
  switch (kind) {
    case "text":
      action = {};
      break;
    case "config":
      if (Object.keys(set).length === 0) {
        throw new InvalidInputError("A config proposal needs at least one --set KEY=VALUE");
      }
      action = { set };
      break;
    case "remove": {
      if (options.remove === undefined) {
        throw new InvalidInputError("A remove proposal needs --remove COOP (its name or id)");
      }
      const coop = findCoop(await fed.view.coopsAt(now), options.remove, fed.genesis, what);
      action = { coop: coop.net };
      break;
    }
    case "clearing":
      throw new InvalidInputError(
        "A clearing agreement is proposed with `icn federation agreement --with COOP --limit ...`",
      );
    case "admit": {
      if (!admitted) {
        throw new InvalidInputError(
          "An admit proposal needs --admit GENESIS_FILE and at least one --delegate DID",
        );
      }
      if (delegates.length === 0) {
        throw new InvalidInputError(
          `An admit proposal needs at least one --delegate DID (a founder of "${
            terminalSafe(admitted.file.genesis.name)
          }")`,
        );
      }
      for (const did of delegates) {
        if (!admitted.file.genesis.members.includes(did)) {
          throw new InvalidInputError(
            `Cannot propose to admit "${
              terminalSafe(admitted.file.genesis.name)
            }": delegate "${did}" is not a founder in its genesis`,
          );
        }
      }
      action = {
        genesis: admitted.file.genesis,
        name: options.coopName ?? admitted.file.genesis.name,
        delegates,
      };
      break;
    }
  }
  const { coop } = await actingCoop(ctx, fed, options.for, what);
  const rules = federationRulesFor(await fed.view.paramsAt(now), kind, {
    secret: extras.secret === true,
  });
  const body = { coop: coop.net, kind, title, body: text, action, rules, ...extras };
  const { cid, envelope: { ts } } = await submitIn(ctx, fed, { kind: "fed.proposal", body });
  const closes = ts + rules.votingPeriod;
  return {
    data: { id: cid, kind, title, coop: coop.net, action, rules, opened: ts, closes, ...extras },
    text: [
      `Proposed ${kind} "${terminalSafe(title)}" for "${terminalSafe(coop.name)}"`,
      `  id:     ${cid}`,
      `  closes: ${iso(closes)}`,
      `  vote:   icn federation vote ${cid.slice(0, 16)} ${voteHint({ ...extras, rules })}`,
      ...(extras.secret
        ? [`  reveal: icn federation reveal ${cid.slice(0, 16)} (after the close)`]
        : []),
    ],
  };
}

/** `federation vote`'s options. */
export interface VoteOptions extends Partial<FederationBallotOptions> {
  reason?: string;
  for?: string;
  net?: string;
}

export async function vote(
  ctx: CliContext,
  args: string[],
  options: VoteOptions,
): Promise<CommandResult> {
  const [id, choiceText] = args;
  const what = `vote ${choiceText ?? options.choice ?? ""} on "${terminalSafe(id)}"${
    forPhrase(options.for)
  }`.replace("vote  on", "vote on");
  const fed = await openFederation(ctx, options.net, what);
  const record = await resolveProposal(fed.view, id);
  const { coop } = await actingCoop(ctx, fed, options.for, what);
  const { body, ballot, shown } = await voteContent(ctx, record, coop.net, choiceText, {
    score: [],
    points: [],
    rank: [],
    can: [],
    ifNeedBe: [],
    ...options,
  });
  const { cid } = await submitIn(ctx, fed, { kind: "fed.vote", body });
  const about = `for "${terminalSafe(coop.name)}" on "${terminalSafe(record.title)}" (${
    record.id.slice(0, 16)
  })`;
  return {
    data: {
      proposal: record.id,
      coop: coop.net,
      ...(record.method ? { ballot } : { choice: ballot }),
      ...(record.secret ? { commitment: body.commitment } : {}),
      cid,
    },
    text: record.secret
      ? [
        `Committed a secret ballot (${shown}) ${about}`,
        `  reveal it after ${iso((await fed.view.timing(record)).closes)}: icn federation reveal ${
          record.id.slice(0, 16)
        } (from this data dir: it keeps the salt)`,
      ]
      : `Voted ${shown} ${about}`,
  };
}

/** `federation reveal`'s options. */
export interface RevealOptions {
  for?: string;
  net?: string;
}

/**
 * Opens the cooperative's secret ballot after the close: the opening of its
 * counted commitment, kept in this data dir by the delegate who voted.
 */
export async function reveal(
  ctx: CliContext,
  args: string[],
  options: RevealOptions,
): Promise<CommandResult> {
  const what = `reveal on "${terminalSafe(args[0])}"${forPhrase(options.for)}`;
  const fed = await openFederation(ctx, options.net, what);
  const record = await resolveProposal(fed.view, args[0]);
  if (!record.secret) {
    throw new InvalidInputError(
      `Nothing to reveal: "${terminalSafe(record.title)}" has an open ballot`,
    );
  }
  const { coop } = await actingCoop(ctx, fed, options.for, what);
  const now = ctx.clock.now();
  const { closes, revealEnds } = await fed.view.timing(record);
  if (now <= closes) {
    throw new InvalidInputError(
      `Cannot reveal yet: voting closes at ${iso(closes)}; reveal between then and ${
        iso(revealEnds)
      }`,
    );
  }
  const counted = (await fed.view.tally(record)).ballots.find((b) => b.coop === coop.net);
  if (counted?.commitment === undefined) {
    throw new InvalidInputError(
      `Nothing to reveal: "${terminalSafe(coop.name)}" did not vote on "${
        terminalSafe(record.title)
      }"`,
    );
  }
  const { readOpening } = await import("./governance_methods.ts");
  const opening = await readOpening(ctx, record.id, counted.commitment);
  const { cid } = await submitIn(ctx, fed, {
    kind: "fed.reveal",
    body: { proposal: record.id, coop: coop.net, ballot: opening.ballot, salt: opening.salt },
  });
  return {
    data: { proposal: record.id, coop: coop.net, ballot: opening.ballot, cid },
    text: `Revealed ${describeBallot(record.method, opening.ballot)} for "${
      terminalSafe(coop.name)
    }" on "${terminalSafe(record.title)}" (${record.id.slice(0, 16)})`,
  };
}

/** `federation show`'s options. */
export interface ShowOptions {
  explain?: boolean;
  net?: string;
}

export async function show(
  ctx: CliContext,
  args: string[],
  options: ShowOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, `show "${terminalSafe(args[0])}"`);
  const record = await resolveProposal(fed.view, args[0]);
  const now = ctx.clock.now();
  const t = await fed.view.tally(record);
  const state = await stateOf(fed.view, record, now);
  const timing = await fed.view.timing(record);
  const special = record.method !== undefined || record.secret === true;
  // A secret proposal's result shows once its reveal window ends.
  const hidden = record.secret === true && now <= timing.revealEnds;
  const coops = await fed.view.coopsAt(record.opened);
  const name = (net: string) => terminalSafe(coops.get(net)?.name ?? net);
  const labels = await contactLabels(ctx);
  const lines = [
    terminalSafe(record.title),
    `  id:        ${record.id}`,
    `  kind:      ${record.kind} (${record.rules.mode}); action: ${describeAction(record)}`,
    `  by:        ${labels.label(record.author)} for "${name(record.coop)}"`,
    `  state:     ${state}`,
    `  opened:    ${iso(record.opened)}`,
    `  closes:    ${iso(timing.closes)}${
      timing.extended ? ` — extended from ${iso(record.closes)} by a late quorum` : ""
    }`,
    ...(record.secret ? [`  reveals:   until ${iso(timing.revealEnds)}`] : []),
    `  effective: ${iso(timing.effective)} (timelock ${formatDuration(record.rules.timelock)})`,
    `  weight:    ${t.weight} (${t.cooperatives} cooperatives, ${t.eligible} eligible)`,
    ...(special
      ? methodLines(record, t, {
        explain: options.explain === true,
        hidden,
        name,
        revealEnds: timing.revealEnds,
      })
      : []),
    ...(hidden ? [] : [
      `  quorum:    ${t.cast} of ${t.eligible} cast, ${t.required} required (${record.rules.quorum}%)${
        t.cast >= t.required ? " — reached" : ""
      }`,
    ]),
    ...(record.method || hidden ? [] : [
      `  approval:  ${t.for} for of ${t.cast} cast; needs more than ${t.threshold} (${record.rules.approval}%)`,
      `  tally:     for ${t.for}, against ${t.against}, abstain ${t.abstain}${
        record.rules.mode === "consent" ? `, block ${t.block}` : ""
      }`,
      "  cooperatives:",
      ...t.ballots.map((b) =>
        `    ${(b.choice ?? "-").padEnd(8)} ${name(b.coop)} (weight ${b.weight})${
          b.by ? ` by ${labels.label(b.by)}` : ""
        }${b.replaced > 0 ? `, replacing ${b.replaced} earlier` : ""}`
      ),
    ]),
  ];
  const { lateQuorumNote } = await import("./governance.ts");
  const quorumAt = await fed.view.quorumReachedAt(record);
  const lateNote = lateQuorumNote(record, timing, quorumAt, "federation");
  // After the quorum line (before the cooperatives of a for/against proposal's tally).
  if (lateNote) {
    const at = lines.findIndex((l) => l.startsWith("  quorum:"));
    lines.splice(at < 0 ? lines.length : at + 1, 0, `  late:      ${lateNote}`);
  }
  if (record.text) {
    lines.push("", ...record.text.split("\n").map((l) => `  | ${terminalSafe(l)}`), "");
  }
  const votes = options.explain ? await fed.view.votes(record.id) : [];
  if (options.explain) {
    lines.push("  votes cast:");
    for (const v of votes) {
      const cast = v.commitment !== undefined
        ? "committed"
        : v.ballot !== undefined
        ? describeBallot(record.method, v.ballot)
        : String(v.choice);
      lines.push(
        `    ${cast.padEnd(8)} ${labels.label(v.did)} for "${name(v.coop)}" at ${iso(v.ts)}${
          v.reason ? ` — ${terminalSafe(v.reason)}` : ""
        }`,
      );
    }
    if (t.ignored.length > 0) {
      lines.push("  ignored:");
      const why = {
        not_cooperative: "not a cooperative of the federation when it opened",
        not_delegate: "not its delegate when voting",
        after_close: "cast after voting closed",
      };
      for (const i of t.ignored) {
        lines.push(`    ${labels.label(i.did)} for "${name(i.coop)}": ${why[i.reason]}`);
      }
    }
  }
  return {
    data: {
      ...record,
      state,
      timing,
      quorumReachedAt: quorumAt ?? null,
      outcome: hidden ? null : t.outcome,
      // Hidden: who committed shows, not what (nothing counts before the reveal window ends).
      tally: hidden
        ? {
          ...t,
          method: undefined,
          ballots: t.ballots.map((b) => ({ ...b, choice: null })),
          for: 0,
          against: 0,
          abstain: 0,
          block: 0,
        }
        : t,
      ...(options.explain ? { votes } : {}),
    },
    warnings: labels.warnings,
    text: lines,
  };
}

/** `federation list`'s options. */
export interface ListOptions {
  limit?: number;
  offset?: number;
  net?: string;
}

export async function list(
  ctx: CliContext,
  _args: string[],
  options: ListOptions,
): Promise<CommandResult> {
  const { limit = pageSizeDefault, offset = 0 } = options;
  const fed = await openFederation(ctx, options.net, "list proposals");
  const now = ctx.clock.now();
  const records = (await allProposals(fed.view)).sort((a, b) =>
    b.opened - a.opened || (a.id < b.id ? -1 : 1)
  );
  const rows = [];
  for (const record of records.slice(offset, offset + limit)) {
    const t = await fed.view.tally(record);
    const timing = await fed.view.timing(record);
    rows.push({
      id: record.id,
      kind: record.kind,
      title: record.title,
      coop: record.coop,
      state: await stateOf(fed.view, record, now),
      opened: record.opened,
      closes: timing.closes,
      effective: timing.effective,
      // A secret ballot counts commitments until its reveal window ends.
      cast: record.secret && now <= timing.revealEnds
        ? t.ballots.filter((b) => b.commitment !== undefined).length
        : t.cast,
      eligible: t.eligible,
    });
  }
  return {
    data: { total: records.length, offset, limit, proposals: rows },
    text: rows.length === 0
      ? ["No federation proposals"]
      : rows.map((r) =>
        `${r.id.slice(0, 16)}  ${r.state.padEnd(9)} ${
          r.kind.padEnd(7)
        } ${r.cast}/${r.eligible} cast  ${terminalSafe(r.title)}`
      ),
  };
}

/** Options of the commands that only read (`members`). */
export interface NetOptions {
  net?: string;
}

export async function members(
  ctx: CliContext,
  _args: string[],
  options: NetOptions,
): Promise<CommandResult> {
  const fed = await openFederation(ctx, options.net, "list the federation's members");
  const now = ctx.clock.now();
  const params = await fed.view.paramsAt(now);
  const weight = String(params["federation.voteWeight"] ?? "equal");
  const rows = [];
  for (const coop of (await fed.view.coopsAt(now)).values()) {
    const current = (await fed.view.delegatesAt(coop.net, now))!;
    rows.push({
      net: coop.net,
      name: coop.name,
      since: coop.since,
      delegates: current.delegates,
      members: current.members,
      weight: weight === "members" ? current.members : 1,
    });
  }
  rows.sort((a, b) => (a.name < b.name ? -1 : 1));
  const labels = await contactLabels(ctx);
  return {
    data: { id: fed.network.id, name: fed.genesis.name, voteWeight: weight, coops: rows },
    warnings: labels.warnings,
    text: [
      `Federation "${
        terminalSafe(fed.genesis.name)
      }" (${fed.network.id}): ${rows.length} cooperative(s), vote weight ${weight}`,
      ...rows.flatMap((r) => [
        `  ${terminalSafe(r.name)} (${r.net}): ${r.members} members, weight ${r.weight}`,
        `    delegates: ${r.delegates.map((d) => labels.label(d)).join(", ")}`,
      ]),
    ],
  };
}

/** `federation vouch`'s options. */
export interface VouchOptions {
  /** Thousandths, parsed where declared (`parseScore`). */
  score: number;
  /** How long the vouch counts, in milliseconds. */
  expires?: number;
  for?: string;
  net?: string;
}

export async function vouch(
  ctx: CliContext,
  args: string[],
  options: VouchOptions,
): Promise<CommandResult> {
  const what = `vouch for "${terminalSafe(args[0])}"${forPhrase(options.for)}`;
  const fed = await openFederation(ctx, options.net, what);
  const now = ctx.clock.now();
  const target = findCoop(await fed.view.coopsAt(now), args[0], fed.genesis, what);
  const { coop } = await actingCoop(ctx, fed, options.for, what);
  const body: Record<string, unknown> = { from: coop.net, to: target.net, score: options.score };
  if (options.expires !== undefined) body.expires = now + options.expires;
  const { cid } = await submitIn(ctx, fed, { kind: "fed.vouch", body });
  return {
    data: { ...body, score: options.score / 1000, cid },
    text: options.score === 0
      ? `"${terminalSafe(coop.name)}" revoked its vouch for "${terminalSafe(target.name)}"`
      : `"${terminalSafe(coop.name)}" vouches ${formatScore(options.score)} for "${
        terminalSafe(target.name)
      }"${body.expires ? ` until ${iso(body.expires as number)}` : ""}`,
  };
}

/** `federation trust`'s options. */
export interface TrustOptions {
  explain?: boolean;
  from?: string;
  net?: string;
}

export async function trust(
  ctx: CliContext,
  args: string[],
  options: TrustOptions,
): Promise<CommandResult> {
  const what = `score trust in "${terminalSafe(args[0])}"${
    options.from === undefined ? "" : ` from "${terminalSafe(options.from)}"`
  }`;
  const fed = await openFederation(ctx, options.net, what);
  const now = ctx.clock.now();
  const coops = await fed.view.coopsAt(now);
  const target = findCoop(coops, args[0], fed.genesis, what);
  const observer = options.from !== undefined
    ? findCoop(coops, options.from, fed.genesis, what)
    : await callerCoop(ctx, fed, coops, what);
  const graph = await fed.view.trustAt(now);
  const explanation = graph.explain(observer.net, target.net);
  const name = (net: string) => terminalSafe(coops.get(net)?.name ?? net);
  const text = [
    `"${name(target.net)}": ${explanation.score.toFixed(4)} (${explanation.class}) seen by "${
      name(observer.net)
    }"`,
  ];
  if (options.explain) {
    const { weights } = explanation;
    text.push(
      `  direct: ${explanation.direct} × ${weights.direct} = ${explanation.directTerm.toFixed(4)}`,
      `  intermediaries: ${explanation.intermediaries.length}, mean product × ${weights.transitive} = ${
        explanation.transitiveTerm.toFixed(4)
      }`,
      ...explanation.intermediaries.map((i) =>
        `    "${name(i.via)}": ${i.toVia} × ${i.fromVia} = ${i.contribution.toFixed(4)}`
      ),
    );
    if (explanation.capped) text.push("  capped at 1");
  }
  return {
    data: {
      from: observer.net,
      to: target.net,
      score: explanation.score,
      class: explanation.class,
      ...(options.explain ? { explanation } : {}),
    },
    text,
  };
}

/**
 * The caller's cooperative in the federation: the one cooperative this data dir holds that is
 * in it, else the one the caller is a delegate of.
 */
async function callerCoop(
  ctx: CliContext,
  fed: Federation,
  coops: Map<string, FederationMember>,
  what: string,
): Promise<FederationMember> {
  const held = (await joinedNetworks(ctx)).filter((n) =>
    n.kind === "cooperative" && coops.has(n.id)
  );
  if (held.length === 1) return coops.get(held[0].id)!;
  try {
    return (await actingCoop(ctx, fed, undefined, what)).coop;
  } catch (error) {
    if (!(error instanceof IcnError)) throw error;
    throw usage(
      "icn.coopNotChosen",
      `Cannot ${what}: say from which cooperative with --from (this data dir holds ${held.length} of the federation's cooperatives)`,
    );
  }
}

/** `federation delegates`'s options. */
export interface DelegatesOptions {
  coopNet: string;
  net?: string;
}

/**
 * Records in the federation the delegates the caller's cooperative chose: the body is built
 * from the cooperative's own governance (`delegatesCitationFor`) and checked the way a node
 * holding both networks would audit it (`checkDelegatesCitation`), so a citation that would be
 * an audit finding is never signed.
 */
export async function delegates(
  ctx: CliContext,
  _args: string[],
  options: DelegatesOptions,
): Promise<CommandResult> {
  const what = `record the delegates of "${terminalSafe(options.coopNet)}"`;
  const fed = await openFederation(ctx, options.net, what);
  const cooperative = await ctx.network(options.coopNet);
  const now = ctx.clock.now();
  const coops = await fed.view.coopsAt(now);
  const coop = coops.get(cooperative.id);
  if (!coop) {
    throw new NotFoundError(
      `Cannot ${what}: cooperative "${
        terminalSafe(cooperative.genesis.name)
      }" (${cooperative.id}) is not in federation "${terminalSafe(fed.genesis.name)}"`,
    );
  }
  const reader = new GovernanceView(new StateOverlay(cooperative.store), cooperative.genesis);
  const options_ = { federation: fed.network.id, at: now };
  const body = await delegatesCitationFor(reader, options_);
  if (!body) {
    throw new NotFoundError(
      `Cannot ${what}: "${
        terminalSafe(coop.name)
      }" has executed no delegates proposal for this federation (icn governance propose --kind delegates --federation ${fed.network.id} --delegate DID ...)`,
    );
  }
  const check = await checkDelegatesCitation(reader, body, options_);
  if (!check.ok) throw new RejectedError(check.reason, check.message);
  const current = await fed.view.delegatesAt(coop.net, now);
  const { did } = await ctx.readPublicIdentity();
  if (!current?.delegates.includes(did)) {
    throw new RejectedError(
      "not_delegate",
      `Cannot ${what}: "${did}" is not one of its delegates in the federation (a current delegate records the change: ${
        current?.delegates.join(", ")
      })`,
    );
  }
  const { cid } = await submitIn(ctx, fed, { kind: "fed.delegates", body });
  return {
    data: { ...body, cid },
    text: [
      `Recorded the delegates of "${terminalSafe(coop.name)}" in "${
        terminalSafe(fed.genesis.name)
      }": ${body.delegates.join(", ")}`,
      `  citing proposal ${body.proposal}; ${body.members} members`,
    ],
  };
}
