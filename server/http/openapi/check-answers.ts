import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv2020Class, ValidateFunction } from 'ajv/dist/2020.js';
import { AppError } from '../../errors.js';
import { errorBody } from '../middleware/errors.js';
import type { OpenApiDocument, OperationObject } from './document.js';

export interface AnswerCheckOptions {
  /** Each answer checked: its operation (`unmatched` for a /v1 path the document does not have) and status. */
  onAnswer?(operationId: string, status: number): void;
  /** Each answer that did not match the document, said as the 500 that replaced it says it. */
  onMismatch?(problem: string): void;
}

type ResponseObject = OperationObject['responses'][string];

interface Operation {
  id: string;
  method: string;
  pattern: RegExp;
  literalSegments: number;
  responses: Record<string, ResponseObject>;
}

// Loaded when a server checks its answers (tests), not by every server that starts: ajv costs
// 30 ms and 2 MB at start-up for nothing in production. Both are CommonJS, so require is synchronous.
const require = createRequire(import.meta.url);
function createAjv(): Ajv2020Class {
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const addFormats = (require('ajv-formats') as { default: (ajv: Ajv2020Class) => Ajv2020Class }).default;
  return addFormats(new Ajv2020({ strict: false, allErrors: false }));
}

/**
 * Checks every answer of the app against the OpenAPI document (for test servers): its status
 * is listed for the operation the request matched, the headers that operation documents as
 * required are there, the media type is a documented one, and a JSON body validates against
 * the document's schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses; each compiled once).
 * This checks the document as much as the code: an answer the schemas allow but the generator
 * rendered differently fails too.
 *
 * A mismatch found before the head is sent replaces the answer with a 500 naming it, so the
 * test asserting the real status fails; one found after (a streamed body) cuts the connection.
 * Either way it is also reported (onMismatch), so a test that expected a failure still fails
 * the run. The check hooks writeHead, write and end, the three ways every answer goes out
 * (express's send and json, streams, the tus adapter's web Response).
 */
export function checkAnswers(api: OpenApiDocument, options: AnswerCheckOptions = {}): RequestHandler {
  const operations = operationsOf(api);
  const validators = new Map<string, ValidateFunction>();
  const ajv = createAjv();
  ajv.addFormat('binary', true);
  const components = api.document.components as Record<string, Record<string, unknown>>;
  const resolve = (r: ResponseObject & { $ref?: string }): ResponseObject =>
    r.$ref ? (components.responses![r.$ref.split('/').pop()!] as ResponseObject) : r;
  const validatorOf = (key: string, schema: unknown) => {
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile({ ...(schema as object), components: { schemas: components.schemas } });
      validators.set(key, validate);
    }
    return validate;
  };

  return (req, res, next) => {
    const method = req.method.toLowerCase();
    const pathname = req.path;
    const operation = findOperation(operations, method, pathname);
    if (!operation && !pathname.startsWith('/v1/')) return next();
    const name = operation ? operation.id : 'unmatched';
    const isHead = method === 'head';

    /** Undefined when the answer is as documented, else what is wrong with it. */
    const problemWith = (status: number, headers: Record<string, string>, body: Buffer | undefined): string | undefined => {
      options.onAnswer?.(name, status);
      const documented = operation ? operation.responses[String(status)] : unmatchedResponse(operations, status);
      if (!documented) return `${name}: status ${status} is not documented (${req.method} ${pathname})`;
      const response = resolve(documented);
      for (const [header, spec] of Object.entries(response.headers ?? {})) {
        if (spec.required && headers[header.toLowerCase()] === undefined) return `${name} ${status}: header ${header} is missing`;
      }
      if (!response.content || isHead || status === 204 || status === 304) return undefined;
      const mediaType = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const documentedType = Object.keys(response.content).find((t) => t === mediaType || (t.endsWith('/*') && mediaType.startsWith(t.slice(0, -1))));
      if (!documentedType) return `${name} ${status}: Content-Type "${mediaType}" is not documented`;
      if (body === undefined || !/json$/.test(documentedType)) return undefined;
      const validate = validatorOf(`${name} ${status} ${documentedType}`, response.content[documentedType]!.schema);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return `${name} ${status}: the body is not JSON`;
      }
      if (validate(parsed)) return undefined;
      const error = validate.errors![0]!;
      return `${name} ${status}: body at ${error.instancePath || '(root)'} ${error.message}${error.params ? ` ${JSON.stringify(error.params)}` : ''}`;
    };

    const replacement = (problem: string) => {
      options.onMismatch?.(problem);
      for (const header of res.getHeaderNames()) if (header !== 'x-request-id') res.removeHeader(header);
      return JSON.stringify(errorBody(new AppError('internal_error', `answer does not match the API description: ${problem}`), req.id));
    };

    const writeHead = res.writeHead;
    const write = res.write;
    const end = res.end;
    let decided = false;
    let swallowing: string | undefined;
    let jsonChunks: Buffer[] | undefined;

    res.writeHead = function (this: Response, status: number, ...rest: unknown[]) {
      if (decided) return writeHead.apply(this, [status, ...rest] as never);
      decided = true;
      const headers = headersOf(res, rest);
      const problem = problemWith(status, headers, undefined);
      if (problem) {
        swallowing = replacement(problem);
        return writeHead.call(this, 500, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(swallowing) });
      }
      if (!isHead && /json/.test(headers['content-type'] ?? '')) jsonChunks = [];
      return writeHead.apply(this, [status, ...rest] as never);
    } as Response['writeHead'];

    res.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
      if (!decided && !res.headersSent) res.writeHead(res.statusCode, undefined as never);
      if (swallowing !== undefined) {
        const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }
      if (jsonChunks && chunk) jsonChunks.push(Buffer.from(chunk as string));
      return write.apply(this, [chunk, ...rest] as never);
    } as Response['write'];

    res.end = function (this: Response, ...args: unknown[]) {
      const chunk = typeof args[0] === 'function' ? undefined : (args[0] as Buffer | string | undefined);
      if (!decided && !res.headersSent) {
        decided = true;
        const body = chunk === undefined || chunk === null ? undefined : Buffer.from(chunk as string);
        const problem = problemWith(res.statusCode, headersOf(res, []), body);
        if (problem) {
          const text = replacement(problem);
          res.statusCode = 500;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.setHeader('Content-Length', Buffer.byteLength(text));
          return end.apply(this, [isHead ? undefined : text] as never);
        }
        return end.apply(this, args as never);
      }
      if (swallowing !== undefined) return end.apply(this, [isHead ? undefined : swallowing] as never);
      if (jsonChunks) {
        if (chunk) jsonChunks.push(Buffer.from(chunk as string));
        const problem = problemWith(res.statusCode, headersOf(res, []), Buffer.concat(jsonChunks));
        if (problem) {
          // The head is gone: the only way left to say it is to cut the answer short.
          options.onMismatch?.(problem);
          res.destroy();
          return this;
        }
      }
      return end.apply(this, args as never);
    } as Response['end'];

    next();
  };
}

function operationsOf(api: OpenApiDocument): Operation[] {
  const list: Operation[] = [];
  for (const [template, item] of Object.entries(api.document.paths)) {
    const segments = template.split('/').filter(Boolean);
    const pattern = new RegExp(`^/${segments.map((s) => (s.startsWith('{') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
    for (const [method, operation] of Object.entries(item)) {
      list.push({ id: operation.operationId, method, pattern, literalSegments: segments.filter((s) => !s.startsWith('{')).length, responses: operation.responses });
    }
  }
  // Where two templates match one path (`/v1/image/metadata/{id}`, `/v1/image/{id}/metadata`),
  // the one with more literal segments wins, as the router registers it first.
  return list.sort((a, b) => b.literalSegments - a.literalSegments);
}

function findOperation(operations: Operation[], method: string, pathname: string): Operation | undefined {
  const match = (m: string) => operations.find((o) => o.method === m && o.pattern.test(pathname));
  // A HEAD is answered by the GET route where there is no HEAD of its own, as express does.
  return match(method) ?? (method === 'head' ? match('get') : undefined);
}

/** A /v1 path no operation has is answered with an error some operation documents (401, 404, …). */
function unmatchedResponse(operations: Operation[], status: number): ResponseObject | undefined {
  if (status < 400) return undefined;
  return operations.find((o) => o.responses[String(status)])?.responses[String(status)];
}

/** The answer's headers, lower-case: those set on it, and those given to writeHead. */
function headersOf(res: Response, writeHeadArgs: unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, value: unknown) => {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  };
  for (const [name, value] of Object.entries(res.getHeaders() as OutgoingHttpHeaders)) add(name, value);
  const given = writeHeadArgs.find((a) => a && typeof a === 'object');
  if (Array.isArray(given)) {
    if (Array.isArray(given[0])) for (const [name, value] of given as Array<[string, string]>) add(name, value);
    else for (let i = 0; i + 1 < given.length; i += 2) add(String(given[i]), given[i + 1]);
  } else if (given) {
    for (const [name, value] of Object.entries(given)) add(name, value);
  }
  return out;
}
