import { InvalidInputError } from "../core/errors.ts";
import {
  decodeLine,
  parseUnlockFor,
  readLine,
  requestBytesMax,
  requestShape,
  signBytesMax,
  unlockForMsMax,
} from "./agent_protocol.ts";

function assertThrows(work: () => unknown, pattern: RegExp): void {
  try {
    work();
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    if (!pattern.test(error.message)) {
      throw new Error(`"${error.message}" does not match ${pattern}`);
    }
    return;
  }
  throw new Error(`expected a refusal matching ${pattern}`);
}

const line = (text: string) => new TextEncoder().encode(text);
const decode = (text: string) =>
  decodeLine(line(text), requestShape, "the request", requestBytesMax);

Deno.test("parseUnlockFor() reads the shared durations and keeps to 1s..12h", () => {
  if (parseUnlockFor("15m") !== 900_000 || parseUnlockFor("90") !== 90_000) {
    throw new Error("15m or 90 misread");
  }
  if (parseUnlockFor("12h") !== unlockForMsMax) throw new Error("12h refused");
  assertThrows(() => parseUnlockFor("13h"), /from 1s to 12h/);
  assertThrows(() => parseUnlockFor("999ms"), /from 1s to 12h/);
  assertThrows(() => parseUnlockFor("1.5h"), /Cannot parse duration/);
  assertThrows(() => parseUnlockFor("soon"), /Cannot parse duration/);
});

Deno.test("the agent's request decoder accepts exactly status, lock and sign", () => {
  if (decode('{"v":1,"op":"status"}').op !== "status") throw new Error("status");
  if (decode('{"v":1,"op":"lock"}').op !== "lock") throw new Error("lock");
  const keystore = "A".repeat(43) + "=";
  const sign = decode(JSON.stringify({ v: 1, op: "sign", keystore, data: "AAEC" }));
  if (sign.op !== "sign" || sign.data.length !== 3) throw new Error("sign");
  assertThrows(() => decode('{"v":1,"op":"export"}'), /op must be one of/);
  assertThrows(() => decode('{"v":1,"op":"status","seed":"x"}'), /unexpected field/);
  assertThrows(() => decode('{"v":2,"op":"status"}'), /\$\.v must be 1/);
  assertThrows(() => decode("[]"), /must be a map/);
  assertThrows(() => decode("{"), /Cannot read the request/);
  assertThrows(
    () => decode(JSON.stringify({ v: 1, op: "sign", keystore, data: "AAF=" })),
    /canonical base64/,
  );
  const tooBig = btoa(String.fromCharCode(...new Uint8Array(signBytesMax + 1)));
  assertThrows(
    () => decode(JSON.stringify({ v: 1, op: "sign", keystore, data: tooBig })),
    /at most/,
  );
});

Deno.test("readLine() stops at the limit, at the end of input and at its deadline", async () => {
  const from = (chunks: string[]) => {
    const queue = chunks.map(line);
    return {
      read(p: Uint8Array): Promise<number | null> {
        const next = queue.shift();
        if (!next) return Promise.resolve(null);
        p.set(next);
        return Promise.resolve(next.length);
      },
    };
  };
  const options = { bytesMax: 8, timeoutMs: 1000, onTimeout: () => {} };
  const got = await readLine(from(["ab", "c\nrest"]), options);
  if (new TextDecoder().decode(got!) !== "abc") throw new Error("line across two reads");
  if (await readLine(from(["abcdefgh", "ij\n"]), options) !== null) throw new Error("limit");
  if (await readLine(from(["abc"]), options) !== null) throw new Error("end of input");
  let timedOut = false;
  const never = { read: () => new Promise<number | null>(() => {}) };
  const stalled = readLine(never, { bytesMax: 8, timeoutMs: 10, onTimeout: () => timedOut = true });
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (!timedOut) throw new Error("no timeout");
  void stalled;
});
