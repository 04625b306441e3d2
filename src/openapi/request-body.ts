/** The request body of a call: its value from the arguments, and its JSON, form or multipart encoding. */
import { randomBytes } from 'node:crypto';
import type { BodyBinding, JsonSchema } from './types.js';
import { entriesOf, isPlainObject, scalar } from './argument-values.js';

function propertySchema(schema: JsonSchema, key: string): JsonSchema | undefined {
  const props = schema.properties;
  if (!isPlainObject(props)) return undefined;
  const s = props[key];
  return isPlainObject(s) ? s : undefined;
}

export function isBase64Schema(schema: JsonSchema | undefined): boolean {
  return !!schema && (schema.contentEncoding === 'base64' || schema.format === 'byte');
}

function isBinarySchema(schema: JsonSchema | undefined): boolean {
  return !!schema && (schema.format === 'binary' || schema.format === 'byte' || typeof schema.contentEncoding === 'string' || typeof schema.contentMediaType === 'string');
}

/** the body value of a call, or undefined for no body */
export function bodyValue(body: BodyBinding, args: Record<string, unknown>): unknown {
  if (body.mode === 'wrapped') return args[body.arg];
  const obj: Record<string, unknown> = {};
  let any = false;
  for (const k of body.properties) {
    if (args[k] !== undefined) {
      obj[k] = args[k];
      any = true;
    }
  }
  return any || body.required ? obj : undefined;
}

function multipartName(s: string): string {
  return s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export function multipartBody(value: unknown, schema: JsonSchema): { body: Buffer; boundary: string } {
  const boundary = `----GatehouseBoundary${randomBytes(16).toString('hex')}`;
  const chunks: Buffer[] = [];
  const part = (name: string, v: unknown, s: JsonSchema | undefined): void => {
    if (v === undefined) return;
    let headers = `Content-Disposition: form-data; name="${multipartName(name)}"`;
    let data: Buffer;
    if (isBinarySchema(s) && typeof v === 'string') {
      headers += `; filename="${multipartName(name)}"\r\nContent-Type: ${typeof s?.contentMediaType === 'string' && !/[\r\n]/.test(s.contentMediaType) ? s.contentMediaType : 'application/octet-stream'}`;
      data = isBase64Schema(s) ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
    } else if (typeof v === 'object' && v !== null) {
      headers += '\r\nContent-Type: application/json';
      data = Buffer.from(JSON.stringify(v), 'utf8');
    } else {
      data = Buffer.from(scalar(v), 'utf8');
    }
    chunks.push(Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`, 'utf8'), data, Buffer.from('\r\n', 'utf8'));
  };
  if (isPlainObject(value)) {
    for (const [k, v] of entriesOf(value)) {
      const s = propertySchema(schema, k);
      if (Array.isArray(v)) {
        const items = isPlainObject(s?.items) ? (s.items as JsonSchema) : undefined;
        for (const item of v) part(k, item, items);
      } else part(k, v, s);
    }
  } else {
    part('body', value, schema);
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return { body: Buffer.concat(chunks), boundary };
}

export function formBody(value: unknown): string {
  if (!isPlainObject(value)) return scalar(value);
  const sp = new URLSearchParams();
  for (const [k, v] of entriesOf(value)) {
    if (Array.isArray(v)) for (const item of v) sp.append(k, scalar(item));
    else sp.append(k, scalar(v));
  }
  return sp.toString();
}
