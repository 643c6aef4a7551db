/** Small helpers shared by the method rules. */

/** Indexes holding the highest value (several on a tie; none when `values` is empty). */
export function argmax(values: readonly number[], among?: readonly number[]): number[] {
  const indexes = among ?? values.map((_, i) => i);
  let best = -Infinity;
  let out: number[] = [];
  for (const i of indexes) {
    if (values[i] > best) {
      best = values[i];
      out = [i];
    } else if (values[i] === best) out.push(i);
  }
  return out;
}

export function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
