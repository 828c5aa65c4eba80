// What every S3 operation receives: the parsed request, the authenticated principal and the
// process-wide dependencies. Operations never see engine types.
import type { Readable } from 'node:stream';
import type { PayloadMode, Principal } from '../auth/sigv4.js';
import type { Config } from '../config.js';
import type { HttpRequest, HttpResponse } from '../http/types.js';
import type { Logger } from '../log.js';
import type { MetadataStore } from '../metadata/types.js';
import type { StorageBackend } from '../storage/types.js';
import type { OperationName } from './routes.js';

export interface S3Deps {
  readonly config: Config;
  readonly metadata: MetadataStore;
  readonly storage: StorageBackend;
  readonly log: Logger;
}

export interface RequestContext {
  readonly req: HttpRequest;
  readonly deps: S3Deps;
  readonly requestId: string;
  readonly operation: OperationName;
  /** '' for the service root. */
  readonly bucket: string;
  /** '' for bucket-level operations. */
  readonly key: string;
  readonly query: ReadonlyMap<string, string>;
  readonly headers: Readonly<Record<string, string>>;
  readonly principal: Principal;
  readonly payload: PayloadMode;
  /** The request body (HTTP de-chunked; replaced by the buffered copy when auth had to read it). */
  readonly body: Readable;
}

export type OperationHandler = (ctx: RequestContext) => Promise<HttpResponse>;
