/** One operation → one tool, in two phases: `plan` (raw parts; schemas added to the graphs), then `finish`. */
import {
  OpenApiError,
  type BodyBinding,
  type JsonSchema,
  type OpenApiTool,
  type OperationBinding,
  type ParameterBinding,
} from './types.js';
import { isObj, nonEmpty, type Kind, type Obj } from './document-values.js';
import { derefSchema, escapePointer, type RefDoc } from './refs.js';
import { isObjectSchema, SchemaGraph } from './schema-convert.js';
import { isJsonMedia, pickRequestMedia } from './media-types.js';
import { LOCATIONS, mergedParameters, parameterSchema, paramProperty, styleOf, swagger2ParamSchema, type RawParam } from './parameters.js';
import { outputPlan } from './responses.js';
import { toolName } from './naming.js';
import { annotationsFor } from './annotations.js';

interface BodyPlan {
  readonly schema: unknown;
  readonly contentType: string;
  readonly required: boolean;
  readonly description?: string | undefined;
  /** Swagger 2.0 formData parameters (the body is the object they form) */
  readonly form?: readonly RawParam[] | undefined;
}

/** what an operation needs, before any schema is converted */
export interface OperationPlan {
  readonly path: string;
  readonly method: string;
  readonly pointer: string;
  readonly op: Obj;
  readonly operationId: string | undefined;
  /** path, query, header, cookie parameters, in that order */
  readonly params: readonly RawParam[];
  readonly paramSchemas: ReadonlyMap<RawParam, unknown>;
  readonly body: BodyPlan | undefined;
  readonly output: { readonly schema: unknown; readonly contentType: string; readonly pointer: string } | undefined;
}

function objectFlattenable(raw: unknown): raw is Obj {
  if (!isObj(raw)) return false;
  if (raw.type !== undefined && raw.type !== 'object' && !(Array.isArray(raw.type) && raw.type.includes('object'))) return false;
  if (!isObj(raw.properties)) return false;
  for (const k of ['allOf', 'anyOf', 'oneOf', 'not', 'if', 'patternProperties', 'unevaluatedProperties', 'dependentSchemas']) {
    if (raw[k] !== undefined) return false;
  }
  return raw.additionalProperties === undefined || raw.additionalProperties === false;
}

export class OperationBuilder {
  readonly input: SchemaGraph;
  readonly output: SchemaGraph;

  constructor(
    private readonly doc: RefDoc,
    private readonly kind: Kind,
    private readonly spec: Obj,
  ) {
    this.input = new SchemaGraph(doc, kind, 'input');
    this.output = new SchemaGraph(doc, kind, 'output');
  }

  /** phase 1: the raw parts of an operation; its schemas are added to the graphs */
  plan(path: string, method: string, pathItem: Obj, op: Obj, pointer: string): OperationPlan {
    const upper = method.toUpperCase();
    const params = mergedParameters(this.doc, path, pathItem, op, pointer);
    const v2 = this.kind === 'swagger-2.0';
    const regular: RawParam[] = [];
    const formParams: RawParam[] = [];
    let bodyParam: RawParam | undefined;
    for (const p of params) {
      if ((p.in as string) === 'body') {
        if (bodyParam) throw new OpenApiError(`operation ${upper} ${path} has more than one body parameter`, p.pointer);
        bodyParam = p;
      } else if ((p.in as string) === 'formData') formParams.push(p);
      else regular.push(p);
    }
    if (bodyParam && formParams.length) {
      throw new OpenApiError(`operation ${upper} ${path} has both body and formData parameters`, bodyParam.pointer);
    }

    let body: BodyPlan | undefined;
    if (v2) {
      const consumes = (Array.isArray(op.consumes) ? op.consumes : Array.isArray(this.spec.consumes) ? this.spec.consumes : []).filter(
        (c): c is string => typeof c === 'string',
      );
      if (bodyParam) {
        const plain = consumes.filter((c) => !/^(multipart\/|application\/x-www-form-urlencoded)/i.test(c));
        body = {
          schema: bodyParam.obj.schema ?? {},
          contentType: pickRequestMedia(plain) ?? 'application/json',
          required: bodyParam.obj.required === true,
          description: nonEmpty(bodyParam.obj.description),
        };
      } else if (formParams.length) {
        const lc = consumes.map((c) => c.toLowerCase());
        const multipart =
          formParams.some((p) => p.obj.type === 'file') ||
          (lc.some((c) => c.startsWith('multipart/form-data')) && !lc.some((c) => c.startsWith('application/x-www-form-urlencoded')));
        body = {
          schema: undefined,
          contentType: multipart ? 'multipart/form-data' : 'application/x-www-form-urlencoded',
          required: formParams.some((p) => p.obj.required === true),
          form: formParams,
        };
      }
    } else if (op.requestBody !== undefined) {
      const rb = this.doc.deref(op.requestBody, pointer + '/requestBody');
      if (isObj(rb) && isObj(rb.content)) {
        const ct = pickRequestMedia(Object.keys(rb.content));
        if (ct !== undefined) {
          const media = this.doc.deref(rb.content[ct], `${pointer}/requestBody/content/${escapePointer(ct)}`);
          const contentType = ct === '*/*' || ct.toLowerCase() === 'application/*' ? 'application/json' : ct;
          const hasSchema = isObj(media) && media.schema !== undefined;
          body = {
            schema: hasSchema ? (media as Obj).schema : isJsonMedia(contentType) ? {} : { type: 'string' },
            contentType,
            required: rb.required === true,
            description: nonEmpty(rb.description),
          };
        }
      }
    }

    const sorted = [...regular].sort((a, b) => LOCATIONS.indexOf(a.in) - LOCATIONS.indexOf(b.in));
    const paramSchemas = new Map<RawParam, unknown>();
    for (const p of sorted) paramSchemas.set(p, parameterSchema(this.doc, this.kind, p));
    for (const p of formParams) paramSchemas.set(p, swagger2ParamSchema(p.obj));
    const output = outputPlan(this.doc, this.kind, this.spec, op, pointer);

    this.input.where = pointer;
    this.input.addRoots([...paramSchemas.values()]);
    if (body && !body.form) this.input.addRoots([body.schema]);
    if (output) {
      this.output.where = output.pointer;
      this.output.addRoots([output.schema]);
    }
    return { path, method: upper, pointer, op, operationId: nonEmpty(op.operationId), params: sorted, paramSchemas, body, output };
  }

  /** phase 2: the tool */
  finish(plan: OperationPlan): OpenApiTool {
    const v2 = this.kind === 'swagger-2.0';
    const input = this.input;
    input.where = plan.pointer;
    const deps: ReadonlySet<string>[] = [];
    const used = new Set<string>();
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    const bindings: ParameterBinding[] = [];
    for (const p of plan.params) {
      let arg = p.name;
      if (used.has(arg)) arg = `${p.in}_${p.name}`;
      for (let i = 2; used.has(arg); i++) arg = `${p.in}_${p.name}_${i}`;
      used.add(arg);
      const c = paramProperty(this.input, this.kind, p, plan.paramSchemas.get(p));
      deps.push(c.deps);
      properties[arg] = c.schema;
      const req = p.in === 'path' || p.obj.required === true;
      if (req) required.push(arg);
      const { style, explode } = styleOf(this.kind, p);
      bindings.push({ name: p.name, in: p.in, arg, required: req, style, explode, allowReserved: !v2 && p.obj.allowReserved === true, schema: c.schema });
    }

    let body: BodyBinding | undefined;
    const b = plan.body;
    if (b) {
      let bodySchema: JsonSchema;
      let flatNames: string[] | undefined;
      if (b.form) {
        const props: Record<string, unknown> = {};
        const req: string[] = [];
        for (const p of b.form) {
          const c = paramProperty(this.input, this.kind, p, plan.paramSchemas.get(p));
          deps.push(c.deps);
          props[p.name] = c.schema;
          if (p.obj.required === true) req.push(p.name);
        }
        bodySchema = { type: 'object', properties: props, ...(req.length ? { required: req } : {}) };
        flatNames = Object.keys(props);
      } else {
        const c = input.convertRoot(b.schema);
        deps.push(c.deps);
        bodySchema = typeof c.schema === 'boolean' ? (c.schema ? {} : { not: {} }) : c.schema;
        if (objectFlattenable(derefSchema(this.doc, b.schema)) && isObj(bodySchema.properties)) flatNames = Object.keys(bodySchema.properties);
      }
      if (flatNames !== undefined && !flatNames.some((n) => used.has(n))) {
        const props = bodySchema.properties as Record<string, unknown>;
        for (const n of flatNames) properties[n] = props[n];
        if (b.required || b.form) {
          const req = Array.isArray(bodySchema.required) ? (bodySchema.required as unknown[]) : [];
          for (const r of req) if (typeof r === 'string' && flatNames.includes(r) && !required.includes(r)) required.push(r);
        }
        body = { contentType: b.contentType, required: b.required, mode: 'flattened', properties: flatNames, arg: '', schema: bodySchema };
      } else {
        let arg = 'body';
        if (used.has(arg)) arg = 'requestBody';
        for (let i = 2; used.has(arg); i++) arg = `body_${i}`;
        used.add(arg);
        const prop: JsonSchema = { ...bodySchema };
        if (b.description) prop.description = b.description;
        properties[arg] = prop;
        if (b.required) required.push(arg);
        body = { contentType: b.contentType, required: b.required, mode: 'wrapped', properties: [], arg, schema: prop };
      }
    }

    const inputSchema: JsonSchema = { type: 'object', properties };
    if (required.length) inputSchema.required = required;
    inputSchema.additionalProperties = false;
    const defs = input.defsFor(...deps);
    if (Object.keys(defs).length) inputSchema.$defs = defs;

    let outputSchema: JsonSchema | undefined;
    let outputWrapped = false;
    if (plan.output) {
      this.output.where = plan.output.pointer;
      const c = this.output.convertRoot(plan.output.schema);
      const odefs = this.output.defsFor(c.deps);
      const hasDefs = Object.keys(odefs).length > 0;
      if (typeof c.schema === 'object' && isObjectSchema(c.schema, odefs)) {
        outputSchema = { ...c.schema, type: 'object' };
      } else {
        outputSchema = { type: 'object', properties: { result: c.schema }, required: ['result'] };
        outputWrapped = true;
      }
      if (hasDefs) outputSchema.$defs = odefs;
    }

    const title = nonEmpty(plan.op.summary);
    const description = nonEmpty(plan.op.description) ?? title;
    const operation: OperationBinding = {
      operationId: plan.operationId,
      method: plan.method,
      path: plan.path,
      parameters: bindings,
      body,
      responseContentType: plan.output?.contentType,
    };
    return {
      name: toolName(plan.operationId, plan.method, plan.path),
      title,
      description,
      inputSchema,
      outputSchema,
      outputWrapped,
      annotations: annotationsFor(plan.method, title),
      operation,
    };
  }
}
