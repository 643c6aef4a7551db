/**
 * The founding of a federation of two cooperatives through the CLI, written once for the clearing
 * tests and `bench:clearing:e2e`: each name's identity; each cooperative's genesis (created by its
 * first founder, signed by every founder in turn, joined by every founder); the federation
 * (created by the first cooperative's delegate, naming the other's, signed by each delegate,
 * joined); each cooperative's delegates proposal (proposed and voted for by its delegate); and,
 * where terms are given, the clearing agreement (proposed by the first cooperative's delegate,
 * voted for by it, carried to the second's as a bundle, voted for there).
 *
 * Every command goes through the caller's runner, so the data dirs, the clock offset and the way
 * `icn` runs stay the caller's. Voting periods are not waited for: `decidedAt` says when the last
 * one closes, and the caller steps its clock past it.
 */

/**
 * A cooperative's delegates decided by one vote of two founders, in force a second after the
 * hour-long vote closes (the caller steps its clock past it).
 */
export const quickDelegatesSets: readonly string[] = [
  "governance.delegates.votingPeriod=1h",
  "governance.delegates.timelock=1s",
  "governance.delegates.quorum=50",
  "governance.delegates.approval=50",
];

/**
 * A credit baseline of 1,000.00 (in minor units) for every member, all of it from the start (no
 * new-member ramp).
 */
export const fullCreditSets: readonly string[] = ["credit.baseline=100000", "credit.rampStart=100"];

/**
 * Runs `icn --json` with `args` in the data dir of `name`, failing unless it exits 0, and returns
 * what it printed.
 */
export type CliJson<N extends string> = <T = Record<string, unknown>>(
  name: N,
  args: string[],
) => Promise<T>;

/** `icn id init` in each name's data dir, all at once: name → DID. */
export async function createIdentities<N extends string>(
  cli: CliJson<N>,
  names: readonly N[],
): Promise<Record<N, string>> {
  const did = {} as Record<N, string>;
  await Promise.all(names.map(async (n) => {
    did[n] = (await cli<{ did: string }>(n, ["id", "init"])).did;
  }));
  return did;
}

export interface GenesisOptions<N extends string> {
  /** The folder the genesis file is written in, as `<name>.json`. */
  root: string;
  did: Record<N, string>;
  name: string;
  /** The first creates the genesis; every one signs it, in this order. */
  founders: readonly N[];
  /** `--set key=value` parameters of the cooperative. */
  sets?: readonly string[];
}

/** A cooperative's genesis file, created and signed by every founder (nobody joins): its path. */
export async function createGenesis<N extends string>(
  cli: CliJson<N>,
  options: GenesisOptions<N>,
): Promise<string> {
  const { root, did, name, founders, sets = [] } = options;
  const file = `${root}/${name}.json`;
  await cli(founders[0], [
    "governance",
    "genesis",
    "create",
    "--name",
    name,
    ...founders.slice(1).flatMap((n) => ["--member", did[n]]),
    ...sets.flatMap((s) => ["--set", s]),
    "--out",
    file,
  ]);
  for (const n of founders) await cli(n, ["governance", "genesis", "sign", file]);
  return file;
}

export interface CooperativeSpec<N extends string> {
  name: string;
  /** Every founder joins; the first is the cooperative's delegate to the federation. */
  founders: readonly N[];
}

export interface FederationWorldOptions<N extends string> {
  /** The folder the genesis, federation and bundle files are written in. */
  root: string;
  /** Every identity of the world; by default each joins the federation. */
  names: readonly N[];
  /** The first's delegate creates the federation and proposes the agreement. */
  coops: readonly [CooperativeSpec<N>, CooperativeSpec<N>];
  /** `--set` parameters of both cooperatives' geneses. */
  sets?: readonly string[];
  federation: {
    name: string;
    /** `--set` parameters of the federation. */
    sets?: readonly string[];
    /** Who joins the federation (default: every name). */
    joiners?: readonly N[];
  };
  /** The clearing agreement's terms; none: the world ends with the delegates chosen. */
  agreement?: Omit<AgreementTerms, "with">;
}

export interface FederationWorld<N extends string> {
  did: Record<N, string>;
  /** Cooperative name → its network id. */
  nets: Record<string, string>;
  /** The federation's network id. */
  federation: string;
  /** Cooperative name → its genesis file, and the federation's file. */
  files: { coops: Record<string, string>; federation: string };
  /** When each cooperative's delegates decision takes effect (ms), in `coops` order. */
  effective: number[];
  agreement?: { id: string; closes: number };
  /** When the last of the set-up's voting periods ends (ms): step the clock past it. */
  decidedAt: number;
}

export interface AgreementTerms {
  /** The partner cooperative's name. */
  with: string;
  limit: string;
  rate: string;
  partnerRate: string;
}

/** `icn federation agreement` by `proposer`, a delegate: the proposal's id and when it closes. */
export function proposeAgreement<N extends string>(
  cli: CliJson<N>,
  proposer: N,
  terms: AgreementTerms,
): Promise<{ id: string; closes: number }> {
  return cli(proposer, [
    "federation",
    "agreement",
    "--with",
    terms.with,
    "--limit",
    terms.limit,
    "--rate",
    terms.rate,
    "--partner-rate",
    terms.partnerRate,
  ]);
}

export interface TransferOptions {
  /** The payer's cooperative network. */
  net: string;
  to: string;
  /** The payee's cooperative where it is another: the payment goes through clearing. */
  coop?: string;
  amount: string;
  id?: string;
}

/** The arguments of `icn ledger transfer` for one payment. */
export function transferArgs(options: TransferOptions): string[] {
  const { net, to, coop, amount, id } = options;
  return [
    "ledger",
    "transfer",
    "--net",
    net,
    "--to",
    to,
    ...(coop === undefined ? [] : ["--coop", coop]),
    "--amount",
    amount,
    ...(id === undefined ? [] : ["--id", id]),
  ];
}

/** Builds the world of `options` (see the file's header) and returns its ids and files. */
export async function createFederationWorld<N extends string>(
  cli: CliJson<N>,
  options: FederationWorldOptions<N>,
): Promise<FederationWorld<N>> {
  const { root, names, coops, sets = [], federation, agreement: terms } = options;
  const did = await createIdentities(cli, names);
  const nets: Record<string, string> = {};
  const coopFiles: Record<string, string> = {};
  await Promise.all(coops.map(async ({ name, founders }) => {
    const file = await createGenesis(cli, { root, did, name, founders, sets });
    const joined = await Promise.all(
      founders.map((n) => cli<{ id: string }>(n, ["governance", "join", file])),
    );
    coopFiles[name] = file;
    nets[name] = joined[0].id;
  }));
  const delegates = coops.map((c) => c.founders[0]);
  const fedFile = `${root}/federation.json`;
  await cli(delegates[0], [
    "federation",
    "create",
    "--name",
    federation.name,
    ...coops.flatMap((c) => ["--coop", coopFiles[c.name]]),
    ...coops.slice(1).flatMap((c, i) => ["--delegate", `${c.name}=${did[delegates[i + 1]]}`]),
    ...(federation.sets ?? []).flatMap((s) => ["--set", s]),
    "--out",
    fedFile,
  ]);
  for (const n of delegates) await cli(n, ["federation", "sign", fedFile]);
  const fed = (await Promise.all(
    (federation.joiners ?? names).map((n) =>
      cli<{ id: string }>(n, ["federation", "join", fedFile])
    ),
  ))[0].id;
  // Each cooperative chooses its delegate (its own governance) while the first's delegate
  // proposes the agreement.
  const choose = async (n: N, coop: string) => {
    const p = await cli<{ id: string; effective: number }>(n, [
      "governance",
      "propose",
      "--net",
      coop,
      "--kind",
      "delegates",
      "--title",
      "Our delegate",
      "--federation",
      fed,
      "--delegate",
      did[n],
    ]);
    await cli(n, ["governance", "vote", p.id, "for", "--net", coop]);
    return p.effective;
  };
  const propose = async () =>
    terms === undefined
      ? undefined
      : await proposeAgreement(cli, delegates[0], { with: coops[1].name, ...terms });
  const [agreement, ...effective] = await Promise.all([
    propose(),
    ...coops.map((c, i) => choose(delegates[i], c.name)),
  ]) as [FederationWorld<N>["agreement"], ...number[]];
  if (agreement !== undefined) {
    // The proposal and the first vote reach the partner's delegate as a bundle.
    await cli(delegates[0], ["federation", "vote", agreement.id, "for"]);
    const bundle = `${root}/fed.car`;
    await cli(delegates[0], ["node", "export", "--net", fed, "--out", bundle]);
    await cli(delegates[1], ["node", "import", bundle, "--net", fed]);
    await cli(delegates[1], ["federation", "vote", agreement.id, "for"]);
  }
  return {
    did,
    nets,
    federation: fed,
    files: { coops: coopFiles, federation: fedFile },
    effective,
    agreement,
    decidedAt: Math.max(agreement?.closes ?? -Infinity, ...effective),
  };
}
