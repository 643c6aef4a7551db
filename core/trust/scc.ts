/**
 * Strongly connected components by Tarjan's algorithm, iterative (an explicit
 * stack instead of recursion) so a million-edge graph cannot overflow the
 * call stack.
 */
import type { TrustGraph } from "./graph.ts";

export interface Components {
  /** Component index of each node. */
  component: Int32Array;
  /** Number of components. */
  count: number;
  /** Size of each component. */
  sizes: Int32Array;
}

export function stronglyConnectedComponents(graph: TrustGraph): Components {
  const n = graph.n;
  const { outStart, outTo } = graph;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const component = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  let stackTop = 0;
  // Call stack: node and the next out-edge position to visit.
  const callNode = new Int32Array(n);
  const callEdge = new Int32Array(n);
  let next = 0;
  let count = 0;
  const sizes: number[] = [];
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    let depth = 0;
    callNode[0] = root;
    callEdge[0] = outStart[root];
    index[root] = low[root] = next++;
    stack[stackTop++] = root;
    onStack[root] = 1;
    while (depth >= 0) {
      const v = callNode[depth];
      const e = callEdge[depth];
      if (e < outStart[v + 1]) {
        callEdge[depth] = e + 1;
        const w = outTo[e];
        if (index[w] === -1) {
          index[w] = low[w] = next++;
          stack[stackTop++] = w;
          onStack[w] = 1;
          depth++;
          callNode[depth] = w;
          callEdge[depth] = outStart[w];
        } else if (onStack[w] && index[w] < low[v]) {
          low[v] = index[w];
        }
        continue;
      }
      if (low[v] === index[v]) {
        let size = 0;
        let w: number;
        do {
          w = stack[--stackTop];
          onStack[w] = 0;
          component[w] = count;
          size++;
        } while (w !== v);
        sizes.push(size);
        count++;
      }
      depth--;
      if (depth >= 0) {
        const parent = callNode[depth];
        if (low[v] < low[parent]) low[parent] = low[v];
      }
    }
  }
  return { component, count, sizes: Int32Array.from(sizes) };
}
