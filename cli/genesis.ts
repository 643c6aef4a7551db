/** Handlers of `icn governance genesis ...` and `icn governance join`. */
import { keepBackup, pathExists, readInputText, writeFileAtomic } from "./files.ts";
import { chainKeys } from "../core/chain/keys.ts";
import type { FederationGenesis } from "../core/federation/genesis.ts";
import {
  AlreadyExistsError,
  IcnError,
  InvalidInputError,
  InvalidSignatureError,
  NotFoundError,
} from "../core/errors.ts";
import {
  addGenesisSignature,
  checkGenesisFile,
  createGenesis,
  type Genesis,
  type GenesisFile,
  genesisFileBytesMax,
  genesisId,
  genesisSigningBytes,
  parseCurrency,
  serializeGenesisFile,
} from "../core/governance/genesis.ts";
import { joinNetwork } from "../core/governance/join.ts";
import { signEd25519 } from "../core/identity/keys.ts";
import { formatDuration, paramDefs, type Params, parseParamValue } from "../core/params.ts";
import { terminalSafe } from "../core/safe_text.ts";
import { resolveDids } from "./contacts.ts";
import type { CliContext } from "./context.ts";
import type { CommandResult } from "./output.ts";

/** `governance genesis create`'s options (declared in cli/governance_commands.ts). */
export interface CreateOptions {
  name: string;
  member: string[];
  /** `code:decimals`, parsed by core's `parseCurrency`. */
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
  const params: Params = {};
  for (const assignment of options.set) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new InvalidInputError(`Cannot parse --set "${assignment}": use KEY=VALUE`);
    params[assignment.slice(0, eq)] = parseParamValue(
      assignment.slice(0, eq),
      assignment.slice(eq + 1),
    );
  }
  // A contact name or a unique prefix becomes the full DID that is signed.
  const members = await resolveDids(ctx, options.member, { what: "--member" });
  try {
    const own = await ctx.readPublicIdentity();
    if (!members.includes(own.did)) members.push(own.did);
  } catch {
    // No identity in this data dir: the founders are exactly those listed.
  }
  if (members.length === 0) {
    throw new InvalidInputError(
      "Cannot create a genesis without members: pass --member DID (repeatable)",
    );
  }
  const genesis = createGenesis({
    name: options.name,
    members,
    currencies: options.currency.map(parseCurrency),
    params,
    created: ctx.clock.now(),
  });
  const file: GenesisFile = { id: await genesisId(genesis), genesis, signatures: [] };
  const out = options.out ?? "genesis.json";
  const backup = await replaceableGenesis(out, options.force === true, ctx.clock.now());
  await writeFileAtomic(out, new TextEncoder().encode(serializeGenesisFile(file)), 0o644);
  return {
    data: { file: out, id: file.id, members: genesis.members, backup: backup ?? null },
    text: [
      `Wrote genesis of "${terminalSafe(genesis.name)}" to ${out}`,
      `  network id: ${file.id}`,
      `  founders (${genesis.members.length}) must each sign: icn governance genesis sign ${out}`,
      ...(backup ? [`  previous ${out} kept as ${backup}`] : []),
    ],
  };
}

/**
 * A genesis file already at `out` may hold founders' signatures, collected one by one: it is
 * replaced only with `--force`, and then kept as a backup (returned). Devices and `-` are not
 * files to keep; a directory is left for the writer to refuse.
 */
async function replaceableGenesis(
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
  let holds = "";
  try {
    const value = JSON.parse(
      await readInputText(out, "genesis file", { bytesMax: genesisFileBytesMax }),
    );
    const signatures = value?.signatures;
    holds = Array.isArray(signatures)
      ? ` and holds ${signatures.length} founder signature(s)${
        typeof value.id === "string" ? ` (network ${terminalSafe(value.id.slice(0, 128))})` : ""
      }`
      : "";
  } catch {
    // Unreadable or not JSON: still a file someone may want; the refusal says nothing more.
  }
  throw new AlreadyExistsError(
    `Cannot write the genesis to "${out}": it already exists${holds} — use --force to replace ` +
      "it (the old file is kept as a backup), or --out another file",
  );
}

/**
 * Reads and checks the genesis file at `path`; every refusal names the file (the core check
 * only knows the text), keeping its error class (invalid input, invalid signature).
 */
async function readGenesisFile(path: string): ReturnType<typeof checkGenesisFile> {
  const text = await readInputText(path, "genesis file", { bytesMax: genesisFileBytesMax });
  try {
    return await checkGenesisFile(text);
  } catch (error) {
    if (!(error instanceof IcnError)) throw error;
    const message = error.message.startsWith("Cannot read genesis file: ")
      ? `Cannot read genesis file ${path}: ${error.message.slice(26)}`
      : `Cannot use genesis file ${path}: ${error.message}`;
    throw error instanceof InvalidSignatureError
      ? new InvalidSignatureError(message, { cause: error })
      : new InvalidInputError(message, { cause: error });
  }
}

export async function signGenesis(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const [path] = args;
  const { file, check } = await readGenesisFile(path);
  const unlocked = await ctx.unlock();
  const signature = await signEd25519(unlocked.ed25519, genesisSigningBytes(file.genesis));
  if (!file.genesis.members.includes(unlocked.did)) {
    throw new InvalidSignatureError(
      `Cannot sign: ${unlocked.did} is not a founder of "${file.genesis.name}"`,
    );
  }
  // The founder signature is made with the inception key: the DID is that key.
  const { parseDid } = await import("../core/identity/did.ts");
  const { bytesEqual } = await import("../core/bytes.ts");
  if (!bytesEqual(parseDid(unlocked.did), unlocked.ed25519.publicKey)) {
    throw new InvalidSignatureError(
      "Cannot sign a genesis after key rotation: founders sign with their inception key",
    );
  }
  const signed = addGenesisSignature(file, unlocked.did, signature);
  await writeFileAtomic(path, new TextEncoder().encode(serializeGenesisFile(signed)), 0o644);
  const missing = check.missing.filter((m) => m !== unlocked.did);
  return {
    data: { file: path, id: check.id, signedBy: unlocked.did, missing },
    text: missing.length === 0
      ? `Signed ${path}; all founders have signed (join with: icn governance join ${path})`
      : `Signed ${path}; still missing ${missing.length} founder signature(s)`,
  };
}

export async function showGenesis(_ctx: CliContext, args: string[]): Promise<CommandResult> {
  const { file, check } = await readGenesisFile(args[0]);
  const g = file.genesis;
  return {
    data: { id: check.id, genesis: g, signed: check.signed, missing: check.missing },
    text: [
      `${terminalSafe(g.name)} (network ${check.id})`,
      `  created:   ${new Date(g.created).toISOString()}`,
      `  protocol:  ${g.protocolVersion}`,
      `  currencies: ${g.currencies.map((c) => `${c.code}:${c.decimals}`).join(", ")}`,
      `  founders:`,
      ...g.members.map((m) => `    ${check.signed.includes(m) ? "signed " : "MISSING"} ${m}`),
    ],
  };
}

export function keys(): Promise<CommandResult> {
  const rows = paramDefs.map((def) => ({
    key: def.key,
    type: def.type,
    default: def.type === "duration" ? formatDuration(def.default as number) : def.default,
    ...(def.values ? { values: def.values } : {}),
    description: def.description,
  }));
  const width = Math.max(...rows.map((r) => r.key.length));
  return Promise.resolve({
    data: rows,
    text: rows.map((r) =>
      `${r.key.padEnd(width)}  ${String(r.default).padEnd(10)} ${r.description}`
    ),
  });
}

/**
 * `icn governance join FILE`: the first network joined goes in the home store, as it always
 * did; each later one in a store of its own (`joinAnotherNetwork`, cli/networks.ts). Joining
 * the same network again changes nothing.
 */
export async function join(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const { file, check } = await readGenesisFile(args[0]);
  if (check.missing.length > 0) {
    throw new InvalidSignatureError(
      `Cannot join "${file.genesis.name}": ${check.missing.length} founder(s) have not signed (${
        check.missing.join(", ")
      })`,
    );
  }
  const { joinAnotherNetwork } = await import("./networks.ts");
  const joined = await joinAnotherNetwork(ctx, {
    id: check.id,
    name: file.genesis.name,
    kind: "cooperative",
    join: (store) => joinNetwork(store, { id: check.id, genesis: file.genesis }),
  });
  if (joined.status === "elsewhere") {
    // Only a store that joined before this check could answer so: a bug in the caller.
    throw new Error(`Store ${joined.file} belongs to network ${joined.network}, not ${check.id}`);
  }
  if (joined.status === "already") {
    return {
      data: { id: check.id, joined: false, already: true, file: joined.file },
      text: `Already a node of "${terminalSafe(file.genesis.name)}" (${check.id})`,
    };
  }
  return {
    data: {
      id: check.id,
      joined: true,
      name: file.genesis.name,
      members: file.genesis.members,
      file: joined.file,
    },
    text: `Joined "${
      terminalSafe(file.genesis.name)
    }" (network ${check.id}, ${file.genesis.members.length} founders)`,
  };
}

/** A member's place in a network, as `governance networks` shows it. */
export type NetworkRole = "founder" | "member" | "delegate" | "not a member";

/**
 * `icn governance networks`: every joined network with its kind, its members now (people in a
 * cooperative, cooperatives in a federation) and this identity's role there. A network whose
 * store file is gone is listed with `state: "store missing"` (members and role null) and a line
 * on how to recover; the listing still succeeds, and the commands that use that network fail.
 */
export async function networks(ctx: CliContext): Promise<CommandResult> {
  const { joinedNetworks, openNetwork, storeMissing } = await import("./networks.ts");
  const { StateOverlay } = await import("../core/chain/state.ts");
  const did = (await pathExists(ctx.publicIdentityPath))
    ? (await ctx.readPublicIdentity()).did
    : undefined;
  const now = ctx.clock.now();
  const rows: {
    name: string;
    id: string;
    kind: string;
    members: number | null;
    role: NetworkRole | null;
    file: string;
    state: "ok" | "store missing";
  }[] = [];
  for (const joined of await joinedNetworks(ctx)) {
    if (await storeMissing(ctx, joined)) {
      const { name, id, kind, file } = joined;
      rows.push({ name, id, kind, members: null, role: null, file, state: "store missing" });
      continue;
    }
    const network = await openNetwork(ctx, joined);
    let members: number;
    let role: NetworkRole = "not a member";
    if (network.kind === "federation") {
      const { FederationView, federationKeys } = await import("../core/federation/view.ts");
      const genesis = (await network.store.get<FederationGenesis>(federationKeys.genesis))?.value;
      if (!genesis) throw new NotFoundError(`Genesis of federation ${network.id} is missing`);
      const view = new FederationView(new StateOverlay(network.store), genesis);
      const coops = await view.coopsAt(now);
      members = coops.size;
      for (const coop of coops.keys()) {
        if (did && (await view.delegatesAt(coop, now))?.delegates.includes(did)) role = "delegate";
      }
    } else {
      const { GovernanceView } = await import("../core/governance/view.ts");
      const genesis = (await network.store.get<Genesis>(chainKeys.genesis(network.id)))?.value;
      if (!genesis) throw new NotFoundError(`Genesis of network ${network.id} is missing`);
      const current = await new GovernanceView(new StateOverlay(network.store), genesis)
        .membersAt(now);
      members = current.size;
      if (did && current.has(did)) role = genesis.members.includes(did) ? "founder" : "member";
    }
    rows.push({
      name: network.name,
      id: network.id,
      kind: network.kind,
      members,
      role,
      file: network.file,
      state: "ok",
    });
  }
  if (rows.length === 0) {
    return {
      data: [],
      text: "No network joined yet: run `icn governance join GENESIS_FILE`",
    };
  }
  const width = Math.max(4, ...rows.map((r) => terminalSafe(r.name).length));
  const missing = rows.filter((r) => r.state === "store missing");
  return {
    data: rows,
    text: [
      `${"NAME".padEnd(width)}  ${"KIND".padEnd(11)}  MEMBERS  ${"ROLE".padEnd(13)}  ID`,
      ...rows.map((r) =>
        `${terminalSafe(r.name).padEnd(width)}  ${r.kind.padEnd(11)}  ${
          String(r.members ?? "-").padStart(7)
        }  ${(r.role ?? r.state).padEnd(13)}  ${r.id}`
      ),
      ...missing.map((r) =>
        `Store of "${terminalSafe(r.name)}" missing: ${
          ctx.path(r.file)
        } is gone; restore it from a backup, or join the network again with its genesis (commands with --net ${r.id} fail until then)`
      ),
    ],
  };
}
