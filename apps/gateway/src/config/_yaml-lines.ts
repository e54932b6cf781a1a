import { isMap, isScalar, isSeq, type LineCounter } from 'yaml';

type Ranged = { range?: readonly [number, number, number] | null | undefined };

/** The 1-based line of the key (or sequence item) at `path` in a parsed YAML document, as deep as it exists. */
export function lineOfPath(
  contents: unknown,
  lineCounter: LineCounter,
  path: readonly (string | number)[],
): number | undefined {
  const lineOf = (node: unknown) => {
    const offset = (node as Ranged | null)?.range?.[0];
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };
  let node: unknown = contents;
  let line: number | undefined = lineOf(node);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      line = lineOf(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      line = lineOf(item) ?? line;
      node = item;
    } else {
      break;
    }
  }
  return line;
}
