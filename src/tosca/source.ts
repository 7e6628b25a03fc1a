/**
 * A YAML file read for TOSCA: its plain data, and where every key and value is (line and column,
 * 1-based) by key path, so that a problem found in the data can name its place in the file.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { type KeyPath, type Problem, pathText } from './problems.js';

export interface Pos {
  line: number;
  column: number;
}

export class SourceFile {
  /** Positions by JSON of the key path: where the key is (for map entries) and where the value starts. */
  private readonly places = new Map<string, { key?: Pos; value: Pos }>();

  private constructor(readonly file: string, readonly data: unknown, readonly problems: Problem[]) {}

  /** Parses `text` (named `file` in messages). YAML errors become problems; data is what could be read. */
  static parse(file: string, text: string): SourceFile {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
    const problems: Problem[] = [];
    const at = (offset: number): Pos => {
      const p = lc.linePos(offset);
      return { line: p.line, column: p.col };
    };
    for (const e of doc.errors) {
      const p = e.linePos?.[0];
      problems.push({ file, line: p?.line ?? 1, column: p?.col ?? 1, path: '', message: `YAML: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    let data: unknown = null;
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      problems.push({ file, line: 1, column: 1, path: '', message: `YAML: ${(e as Error).message}` });
    }
    const src = new SourceFile(file, data, problems);
    const walk = (node: unknown, path: KeyPath, key?: Pos): void => {
      if (isAlias(node)) return;
      const n = node as YamlNode | null;
      const value = n?.range ? at(n.range[0]) : key ?? { line: 1, column: 1 };
      src.places.set(JSON.stringify(path), key ? { key, value } : { value });
      if (isMap(n)) {
        for (const item of n.items) {
          if (!isPair(item)) continue;
          const k = item.key as YamlNode | null;
          const name = isScalar(k) ? String(k.value) : String(k);
          const keyPos = k?.range ? at(k.range[0]) : value;
          walk(item.value, [...path, name], keyPos);
        }
      } else if (isSeq(n)) {
        n.items.forEach((item, i) => walk(item, [...path, i]));
      }
    };
    walk(doc.contents, []);
    return src;
  }

  static async read(file: string): Promise<SourceFile> {
    const path = resolve(file);
    const text = await readFile(path, 'utf8');
    return SourceFile.parse(file, text);
  }

  /**
   * Where `path` is: its key (for a map entry; `prefer: 'key'`) or its value. A path that is not in
   * the file (a missing key) is placed at its nearest present parent.
   */
  pos(path: KeyPath, prefer: 'key' | 'value' = 'key'): Pos {
    for (let n = path.length; n >= 0; n--) {
      const p = this.places.get(JSON.stringify(path.slice(0, n)));
      if (p) return (prefer === 'key' && p.key) || p.value;
    }
    return { line: 1, column: 1 };
  }

  problem(path: KeyPath, message: string, prefer: 'key' | 'value' = 'key'): Problem {
    const p = this.pos(path, prefer);
    return { file: this.file, line: p.line, column: p.column, path: pathText(path), message };
  }
}
