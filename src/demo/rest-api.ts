/**
 * Built-in demo REST API that `gatehouse start` serves (behind the gateway, as an OpenAPI MCP
 * server "books") when no config file exists: a small in-memory book catalogue on a loopback port,
 * with its OpenAPI 3.1 document at `/openapi.json`.
 *
 * GET /books?author=&tag=… (tags: an exploded query array), GET /books/{id}, POST /books (JSON
 * body), DELETE /books/{id}, GET /books/{id}/cover (a PNG image).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoRestApi {
  /** base URL, e.g. http://127.0.0.1:PORT (no trailing slash) */
  readonly url: string;
  /** the OpenAPI document's URL */
  readonly openapiUrl: string;
  close(): Promise<void>;
}

interface Book {
  id: number;
  title: string;
  author: string;
  year: number;
  tags: string[];
}

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

const BOOK_SCHEMA = {
  type: 'object',
  required: ['id', 'title', 'author', 'year', 'tags'],
  properties: {
    id: { type: 'integer', description: 'Book id' },
    title: { type: 'string' },
    author: { type: 'string' },
    year: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string' } },
  },
};

export function demoOpenApiDocument(serverUrl: string): Record<string, unknown> {
  const idParam = { name: 'id', in: 'path', required: true, description: 'The book id', schema: { type: 'integer', minimum: 1 } };
  const notFound = { description: 'No such book', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } };
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse demo book catalogue', version: '1.0.0', description: 'A small in-memory REST API that the Gatehouse quickstart exposes as MCP tools.' },
    servers: [{ url: serverUrl }],
    paths: {
      '/books': {
        get: {
          operationId: 'listBooks',
          summary: 'List books',
          description: 'Lists the catalogue, optionally filtered by author and tags (a book must carry every tag given).',
          parameters: [
            { name: 'author', in: 'query', required: false, description: 'Exact author name', schema: { type: 'string' } },
            { name: 'tag', in: 'query', required: false, description: 'Tags the books must carry', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
          ],
          responses: { '200': { description: 'The books', content: { 'application/json': { schema: { type: 'array', items: BOOK_SCHEMA } } } } },
        },
        post: {
          operationId: 'addBook',
          summary: 'Add a book',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['title', 'author'],
                  properties: { title: { type: 'string', minLength: 1 }, author: { type: 'string', minLength: 1 }, year: { type: 'integer', default: 2025 }, tags: { type: 'array', items: { type: 'string' } } },
                },
              },
            },
          },
          responses: { '201': { description: 'The new book', content: { 'application/json': { schema: BOOK_SCHEMA } } } },
        },
      },
      '/books/{id}': {
        get: { operationId: 'getBook', summary: 'Get a book by id', parameters: [idParam], responses: { '200': { description: 'The book', content: { 'application/json': { schema: BOOK_SCHEMA } } }, '404': notFound } },
        delete: { operationId: 'deleteBook', summary: 'Delete a book', parameters: [idParam], responses: { '204': { description: 'Deleted' }, '404': notFound } },
      },
      '/books/{id}/cover': {
        get: { operationId: 'getBookCover', summary: "A book's cover image", parameters: [idParam], responses: { '200': { description: 'PNG image', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } }, '404': notFound } },
      },
    },
  };
}

export async function startDemoRestApi(opts: { host?: string; port?: number } = {}): Promise<DemoRestApi> {
  const books: Book[] = [
    { id: 1, title: 'The Left Hand of Darkness', author: 'Ursula K. Le Guin', year: 1969, tags: ['sf', 'classic'] },
    { id: 2, title: 'A Wizard of Earthsea', author: 'Ursula K. Le Guin', year: 1968, tags: ['fantasy', 'classic'] },
    { id: 3, title: 'Piranesi', author: 'Susanna Clarke', year: 2020, tags: ['fantasy'] },
  ];
  let next = 4;
  let base = '';
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const path = url.pathname;
      if (req.method === 'GET' && path === '/openapi.json') return json(res, 200, demoOpenApiDocument(base));
      if (path === '/books') {
        if (req.method === 'GET') {
          const author = url.searchParams.get('author');
          const tags = url.searchParams.getAll('tag');
          return json(res, 200, books.filter((b) => (author === null || b.author === author) && tags.every((t) => b.tags.includes(t))));
        }
        if (req.method === 'POST') {
          let body: Partial<Book>;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<Book>;
          } catch {
            return json(res, 400, { error: 'invalid JSON' });
          }
          if (typeof body.title !== 'string' || typeof body.author !== 'string') return json(res, 400, { error: 'title and author are required' });
          const book: Book = { id: next++, title: body.title, author: body.author, year: typeof body.year === 'number' ? body.year : 2025, tags: Array.isArray(body.tags) ? body.tags.map(String) : [] };
          books.push(book);
          return json(res, 201, book);
        }
      }
      const m = /^\/books\/(\d+)(\/cover)?$/.exec(path);
      if (m) {
        const i = books.findIndex((b) => b.id === Number(m[1]));
        if (i === -1) return json(res, 404, { error: `no book ${m[1]}` });
        if (m[2] && req.method === 'GET') {
          const png = Buffer.from(PNG_1X1, 'base64');
          res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
          return res.end(png);
        }
        if (!m[2] && req.method === 'GET') return json(res, 200, books[i]);
        if (!m[2] && req.method === 'DELETE') {
          books.splice(i, 1);
          res.writeHead(204).end();
          return;
        }
      }
      json(res, 404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  base = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    url: base,
    openapiUrl: `${base}/openapi.json`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
