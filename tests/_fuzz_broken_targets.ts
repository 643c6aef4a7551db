/** Targets with known faults, to show that the fuzzer reports each kind (tests/fuzz_test.ts). */
import { InvalidInputError } from "../core/errors.ts";
import { MemoryStore } from "../core/store/memory_store.ts";
import type { FuzzTarget } from "../scripts/_fuzz_targets.ts";

export function buildTargets(_dir: string): Promise<FuzzTarget[]> {
  const store = new MemoryStore();
  let writes = 0;
  const sample = [new Uint8Array([1, 2, 3])];
  return Promise.resolve([
    {
      name: "refuses",
      what: "refuses everything with a typed error",
      format: "bytes",
      samples: sample,
      run: () => Promise.reject(new InvalidInputError("no")),
    },
    {
      name: "throws",
      what: "throws a TypeError",
      format: "bytes",
      samples: sample,
      run: () => Promise.reject(new TypeError("boom")),
    },
    {
      name: "writes",
      what: "changes its store",
      format: "bytes",
      samples: sample,
      store,
      run: () => store.commit([], [{ type: "set", key: ["n", writes++], value: 1 }]),
    },
    {
      name: "hangs",
      what: "never returns",
      format: "bytes",
      samples: sample,
      run: () => {
        while (true) {
          // A synchronous loop: only the watchdog in the main thread can see it.
        }
      },
    },
  ]);
}
