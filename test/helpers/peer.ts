// The torchattacks peer (test/py/attack_peer.py): a model's graph exported for it, and running it. Shared by
// test/harness-peer.test.ts and bench/attacks-peer.bench.ts.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AttributeType } from '../../src/ir/attribute.js';
import { loadModel } from '../../src/ir/io.js';
import { retrofit } from '../../src/passes/jumprelu.js';
import { repoRoot } from '../fixtures.js';

/** Where .ci/run installs torchattacks (pip --no-deps --target). */
export const PEER_LIB = join(repoRoot(), 'fixtures', '.cache', 'py');

/** The graph of an ONNX model as attack_peer.py reads it: nodes, attributes, float32 initializers as files. */
export function exportGraph(modelPath: string, kappa: number, dir: string): Record<string, unknown> {
  const m = loadModel(modelPath);
  if (kappa > 0) retrofit(m, { kappa, target: 'thresholded-relu' });
  const initializers: Record<string, { dims: number[]; file: string }> = {};
  let k = 0;
  for (const [name, v] of m.graph.initializers) {
    const t = v.initializer!;
    const file = `w${k++}.f32`;
    const data = t.float32Data(() => { throw new Error('external data'); });
    writeFileSync(join(dir, file), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    initializers[name] = { dims: t.dims.map(Number), file };
  }
  const nodes = m.graph.nodes.map((n) => {
    const attrs: Record<string, number | number[]> = {};
    for (const [name, a] of n.attributes) {
      const d = a.data;
      if (d.type === AttributeType.INT) attrs[name] = Number(d.value as bigint);
      else if (d.type === AttributeType.FLOAT) attrs[name] = d.value as number;
      else if (d.type === AttributeType.INTS) attrs[name] = (d.value as bigint[]).map(Number);
      else if (d.type === AttributeType.FLOATS) attrs[name] = d.value as number[];
    }
    return { op: n.opType, inputs: n.inputs.map((v) => v?.name ?? ''), outputs: n.outputs.map((v) => v.name), attrs };
  });
  const input = m.graph.inputs.find((v) => !v.initializer)!.name;
  return { input, output: m.graph.outputs[0]!.name, nodes, initializers };
}

export function runPeer(py: string, dir: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, PYTHONPATH: [PEER_LIB, process.env['PYTHONPATH']].filter(Boolean).join(':') };
    const child = spawn(py, [join(repoRoot(), 'test', 'py', 'attack_peer.py'), dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

