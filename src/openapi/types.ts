/**
 * The shapes shared by the OpenAPI import (load.ts, tools.ts), the call path (invoke.ts) and the
 * gateway's openapi servers (src/mcp/openapi-endpoint.ts). An imported operation becomes an
 * `OpenApiTool`: the MCP tool it is listed as, plus how a call's arguments map onto the HTTP
 * request (`OperationBinding`).
 */

/** a JSON Schema (draft 2020-12 as MCP tools use it), plain JSON data: no cycles */
export type JsonSchema = { [key: string]: unknown };

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

export interface ParameterBinding {
  /** the parameter's name in the HTTP request */
  readonly name: string;
  readonly in: ParameterLocation;
  /** the property of the tool's arguments object that carries it (usually `name`; renamed on collisions) */
  readonly arg: string;
  readonly required: boolean;
  /** OpenAPI 3 serialization (defaults per location: path/header simple, query/cookie form; explode true for form) */
  readonly style: 'simple' | 'form' | 'label' | 'matrix' | 'spaceDelimited' | 'pipeDelimited' | 'deepObject';
  readonly explode: boolean;
  readonly allowReserved: boolean;
  readonly schema: JsonSchema;
}

export interface BodyBinding {
  /** the request media type used: application/json, application/x-www-form-urlencoded, multipart/form-data, text/plain, application/octet-stream … */
  readonly contentType: string;
  readonly required: boolean;
  /**
   * 'flattened': the body is an object whose properties are top-level arguments (`properties` lists
   * them); 'wrapped': the whole body is the `body` argument (non-object bodies, or name collisions)
   */
  readonly mode: 'flattened' | 'wrapped';
  /** flattened: argument names that form the body */
  readonly properties: readonly string[];
  /** wrapped: the argument holding the body (normally "body") */
  readonly arg: string;
  readonly schema: JsonSchema;
}

export interface OperationBinding {
  readonly operationId: string | undefined;
  /** upper case: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS */
  readonly method: string;
  /** the path template, e.g. /pet/{petId} (appended to the backend base URL) */
  readonly path: string;
  readonly parameters: readonly ParameterBinding[];
  readonly body: BodyBinding | undefined;
  /** media type of the success response the outputSchema describes (when JSON) */
  readonly responseContentType: string | undefined;
}

export interface ToolAnnotations {
  readonly title?: string;
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
  readonly idempotentHint?: boolean;
  readonly openWorldHint?: boolean;
}

export interface OpenApiTool {
  /** MCP tool name: ^[A-Za-z0-9_.-]{1,128}$, unique in the server */
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string | undefined;
  /** type: object, with properties, required, additionalProperties: false */
  readonly inputSchema: JsonSchema;
  /** when the success response has a JSON schema: an object schema (non-object results wrapped as { result }) */
  readonly outputSchema: JsonSchema | undefined;
  /** true when outputSchema wraps a non-object result under `result` */
  readonly outputWrapped: boolean;
  readonly annotations: ToolAnnotations;
  readonly operation: OperationBinding;
}

export interface ImportedApi {
  /** 'openapi-3.0' | 'openapi-3.1' | 'swagger-2.0' */
  readonly kind: 'openapi-3.0' | 'openapi-3.1' | 'swagger-2.0';
  readonly title: string | undefined;
  readonly version: string | undefined;
  /** absolute server URLs of the document (OpenAPI servers, or Swagger schemes+host+basePath); relative ones resolved against a URL source */
  readonly servers: readonly string[];
  /** every operation as a tool, in document order (paths, then methods) */
  readonly tools: readonly OpenApiTool[];
}

/** a tool selection of the config (`tools:` of an openapi server) */
export interface ToolSelection {
  /** operationId, or "METHOD /path" */
  readonly operation: string;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
}

/** what the invoke step builds from a call's arguments (before policies may change it) */
export interface RestRequest {
  readonly method: string;
  /** path + query, e.g. /pet/12?status=a&status=b — appended to the base URL */
  readonly pathAndQuery: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer | undefined;
}

/** an MCP CallToolResult */
export interface ToolResult {
  readonly content: readonly Record<string, unknown>[];
  readonly structuredContent?: Record<string, unknown>;
  readonly isError?: boolean;
}

/** a problem of an import, with the JSON pointer into the document where known */
export class OpenApiError extends Error {
  constructor(
    message: string,
    readonly pointer?: string,
  ) {
    super(pointer ? `${message} (at ${pointer})` : message);
    this.name = 'OpenApiError';
  }
}

/** arguments that do not fit the input schema: the message names the field */
export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}
