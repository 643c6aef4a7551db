/**
 * Misbehaviour of peers: points per offence, bounded evidence per peer, and
 * escalation quarantine (messages ignored) → ban (disconnected, refused).
 * Points decay so a peer that stops misbehaving recovers from quarantine.
 */

export const offences = [
  "invalid_signature",
  "malformed",
  "too_large",
  "wrong_network",
  "fork",
  "replay",
  "rate_abuse",
  "bad_hello",
] as const;
export type Offence = typeof offences[number];

const offencePoints: Record<Offence, number> = {
  invalid_signature: 10,
  malformed: 5,
  too_large: 5,
  wrong_network: 5,
  fork: 20,
  replay: 1,
  rate_abuse: 1,
  bad_hello: 20,
};

/** Evidence items kept per peer (the newest). */
const evidenceMax = 16;
/** Peers tracked; the oldest entries go first. */
const peersMax = 4096;
/** Points forgiven per second of good behaviour. */
const decayPerSecond = 0.2;

export interface Evidence {
  offence: Offence;
  at: number;
  detail: string;
}

export type PeerStanding = "ok" | "quarantined" | "banned";

export interface PeerRecord {
  points: number;
  counts: Partial<Record<Offence, number>>;
  evidence: Evidence[];
  standing: PeerStanding;
  bannedUntil: number;
  at: number;
}

export interface MisbehaviourOptions {
  quarantinePoints: number;
  banPoints: number;
  banMs: number;
}

export class MisbehaviourTracker {
  readonly #peers = new Map<string, PeerRecord>();
  constructor(readonly options: MisbehaviourOptions) {}

  #decay(record: PeerRecord, now: number): void {
    const seconds = Math.max(0, now - record.at) / 1000;
    record.points = Math.max(0, record.points - seconds * decayPerSecond);
    record.at = now;
    if (record.standing === "banned" && now >= record.bannedUntil) {
      record.standing = "ok";
      record.points = 0;
    }
    if (record.standing === "quarantined" && record.points < this.options.quarantinePoints / 2) {
      record.standing = "ok";
    }
  }

  /** Records an offence; returns the peer's standing afterwards. */
  record(peer: string, offence: Offence, detail: string, now: number): PeerStanding {
    let record = this.#peers.get(peer);
    if (!record) {
      if (this.#peers.size >= peersMax) this.#peers.delete(this.#peers.keys().next().value!);
      record = { points: 0, counts: {}, evidence: [], standing: "ok", bannedUntil: 0, at: now };
      this.#peers.set(peer, record);
    }
    this.#decay(record, now);
    record.points += offencePoints[offence];
    record.counts[offence] = (record.counts[offence] ?? 0) + 1;
    record.evidence.push({ offence, at: now, detail: detail.slice(0, 200) });
    if (record.evidence.length > evidenceMax) record.evidence.shift();
    if (record.points >= this.options.banPoints) {
      record.standing = "banned";
      record.bannedUntil = now + this.options.banMs;
    } else if (record.points >= this.options.quarantinePoints && record.standing === "ok") {
      record.standing = "quarantined";
    }
    return record.standing;
  }

  standing(peer: string, now: number): PeerStanding {
    const record = this.#peers.get(peer);
    if (!record) return "ok";
    this.#decay(record, now);
    return record.standing;
  }

  get(peer: string): PeerRecord | undefined {
    return this.#peers.get(peer);
  }
}
