// /docs: Swagger UI for /openapi.json, with every asset served from the swagger-ui-dist package
// under /docs/ (upstream loads them from a CDN; this page works offline). Only a fixed list of
// files is served, so no request path ever reaches the file system.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { HttpResponse } from '../http/types.js';

const ASSETS: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
  ['favicon-16x16.png', 'image/png'],
]);

const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
});
`;

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>BleepStore S3 API - Swagger UI</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-init.js"></script>
</body>
</html>
`;

function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

/** Loads the ~1.6 MB of assets on first use only, so an idle server does not hold them. */
export class SwaggerDocs {
  private readonly cache = new Map<string, Buffer>();
  private dir: string | undefined;

  /** Answers /docs, /docs/ and /docs/{asset}; undefined for any other /docs path. */
  async serve(rawPath: string): Promise<HttpResponse | undefined> {
    if (rawPath === '/docs' || rawPath === '/docs/' || rawPath === '/docs/index.html') {
      return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: Buffer.from(PAGE) };
    }
    const name = rawPath.startsWith('/docs/') ? rawPath.slice('/docs/'.length) : '';
    if (name === 'swagger-init.js') {
      return { status: 200, headers: { 'Content-Type': 'text/javascript; charset=utf-8' }, body: Buffer.from(INIT_SCRIPT) };
    }
    const contentType = ASSETS.get(name);
    if (contentType === undefined) return undefined;
    let body = this.cache.get(name);
    if (body === undefined) {
      this.dir ??= swaggerUiDir();
      body = await readFile(join(this.dir, name));
      this.cache.set(name, body);
    }
    return { status: 200, headers: { 'Content-Type': contentType, 'Cache-Control': 'public, max-age=86400' }, body };
  }
}
