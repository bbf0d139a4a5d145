// A model-local function (FunctionProto). Its body is a Graph whose inputs and outputs are the
// function's formal parameters; attributes of body nodes may refer to the caller's attributes.

import type { Attribute } from './attribute.js';
import type { Graph, LayoutEntry } from './graph.js';
import type { OpsetImport } from './model.js';
import type { UnknownFields } from './origin.js';

export class IrFunction {
  name: string;
  domain: string;
  overload: string | null = null;
  docString: string | null = null;
  body: Graph;
  /** Names of attributes the function accepts without a default. */
  attributeNames: string[] = [];
  /** Attributes with default values. */
  attributeDefaults: Attribute[] = [];
  opsetImports: OpsetImport[] = [];
  layout: LayoutEntry[] | null = null;
  unknownFields: UnknownFields = [];

  constructor(name: string, domain: string, body: Graph) {
    this.name = name;
    this.domain = domain;
    this.body = body;
  }

  /** The key ONNX uses to resolve a call: (domain, name, overload). */
  get key(): string {
    return `${this.domain}::${this.name}::${this.overload ?? ''}`;
  }
}
