// Connecting the Azure gateway (spec/storage.md §5.3: storage.azure.*), classifying Azure errors for
// withRetry, and authorising the service to read our own blobs as Put Block From URL sources.
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  type BlobClient,
  type ContainerClient,
  type HttpAuthorization,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { Config } from '../config.js';
import { classifyHttpStatus, isTransientNetworkError, withRetry, type FailureKind } from '../cloud/retry.js';

export type AzureSettings = Config['storage']['azure'];

const SERVICE = 'Azure Blob Storage';
/** OAuth scope of Azure Storage, for a token credential authorising a copy source. */
const STORAGE_SCOPE = 'https://storage.azure.com/.default';
/** Lifetime of a read SAS handed to the service for one Put Block From URL. */
const SOURCE_SAS_MS = 60 * 60 * 1000;

/**
 * The SDK retries internally by default; withRetry does the retrying here (one policy, one place
 * that turns exhaustion into BackendUnavailableError), so the pipeline makes a single attempt.
 */
const PIPELINE_OPTIONS: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };

/** A credential of @azure/identity; a type-only import, as the package itself loads lazily. */
type TokenSource = import('@azure/identity').DefaultAzureCredential;

/** What the service needs to read one of our blobs itself. */
export interface CopySource {
  url: string;
  authorization?: HttpAuthorization;
}

export interface AzureConnection {
  readonly container: ContainerClient;
  /** Safe to log: endpoint and container, never a secret. */
  readonly description: string;
  copySource(blob: BlobClient): Promise<CopySource>;
}

interface ErrorShape {
  statusCode?: unknown;
  code?: unknown;
}

export function azureStatus(e: unknown): number | undefined {
  const status = (e as ErrorShape | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function azureErrorCode(e: unknown): string | undefined {
  const code = (e as ErrorShape | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** 429 and 503 ServerBusy are Azure throttling; other 5xx and network failures are transient. */
export function classifyAzureError(e: unknown): FailureKind {
  if (isTransientNetworkError(e)) return 'transient';
  const status = azureStatus(e);
  const code = azureErrorCode(e);
  // The SDK reports a request that never got an answer as REQUEST_SEND_ERROR without a status.
  if (status === undefined) return code === 'REQUEST_SEND_ERROR' ? 'transient' : 'fatal';
  if (status === 429 || (status === 503 && code === 'ServerBusy')) return 'throttled';
  return classifyHttpStatus(status);
}

/** Runs an Azure call that is safe to repeat, with backoff on throttling and transient failures. */
export function azureCall<T>(op: () => Promise<T>): Promise<T> {
  return withRetry(SERVICE, op, classifyAzureError);
}

export function isNotFound(e: unknown): boolean {
  return azureStatus(e) === 404;
}

/** `account` may be a name (Go: https://{account}.blob.core.windows.net) or a URL (Python). */
export function accountUrlOf(settings: AzureSettings): string | undefined {
  if (settings.account_url) return settings.account_url;
  const account = settings.account;
  if (!account) return undefined;
  return /^https?:\/\//i.test(account) ? account : `https://${account}.blob.core.windows.net`;
}

/** The account name a shared key signs for: the host's first label, or (emulator URLs) the first path segment. */
export function accountNameOf(url: string): string {
  const parsed = new URL(url);
  const host = parsed.hostname;
  if (host === 'localhost' || /^[\d.]+$/.test(host) || host.startsWith('[')) {
    const first = parsed.pathname.split('/').find((s) => s !== '');
    if (first) return first;
  }
  return host.split('.')[0] ?? host;
}

function withSas(url: string, sas: string): string {
  const token = sas.startsWith('?') ? sas.slice(1) : sas;
  return url.includes('?') ? `${url}&${token}` : `${url}?${token}`;
}

async function defaultAzureCredential(): Promise<TokenSource> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}

/**
 * Builds the client from, in order: storage.azure.connection_string; account/account_url with
 * use_managed_identity (DefaultAzureCredential), env AZURE_STORAGE_KEY (shared key) or env
 * AZURE_STORAGE_SAS_TOKEN, else DefaultAzureCredential; and with no account at all, env
 * AZURE_STORAGE_CONNECTION_STRING. Nothing is contacted here.
 */
export async function connectAzure(settings: AzureSettings, env: NodeJS.ProcessEnv = process.env): Promise<AzureConnection> {
  let service: BlobServiceClient;
  let token: TokenSource | undefined;
  const url = accountUrlOf(settings);
  const connectionString = settings.connection_string || (url === undefined ? env.AZURE_STORAGE_CONNECTION_STRING : undefined);
  if (connectionString) {
    service = BlobServiceClient.fromConnectionString(connectionString, PIPELINE_OPTIONS);
  } else if (url === undefined) {
    throw new Error('storage.azure needs connection_string, account or account_url (or env AZURE_STORAGE_CONNECTION_STRING)');
  } else if (settings.use_managed_identity) {
    token = await defaultAzureCredential();
    service = new BlobServiceClient(url, token, PIPELINE_OPTIONS);
  } else if (env.AZURE_STORAGE_KEY) {
    service = new BlobServiceClient(url, new StorageSharedKeyCredential(accountNameOf(url), env.AZURE_STORAGE_KEY), PIPELINE_OPTIONS);
  } else if (env.AZURE_STORAGE_SAS_TOKEN) {
    service = new BlobServiceClient(withSas(url, env.AZURE_STORAGE_SAS_TOKEN), undefined, PIPELINE_OPTIONS);
  } else {
    token = await defaultAzureCredential();
    service = new BlobServiceClient(url, token, PIPELINE_OPTIONS);
  }
  const container = service.getContainerClient(settings.container);
  const sharedKey = service.credential instanceof StorageSharedKeyCredential;
  const tokenSource = token;

  async function copySource(blob: BlobClient): Promise<CopySource> {
    // Shared key: a short read-only SAS for this one blob. Token: the same bearer token, sent as
    // x-ms-copy-source-authorization. SAS in the URL (or a public container): the URL as is.
    if (sharedKey) {
      return { url: await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + SOURCE_SAS_MS) }) };
    }
    if (tokenSource) {
      const access = await tokenSource.getToken(STORAGE_SCOPE);
      if (!access) throw new Error('Azure credential returned no token for the copy source');
      return { url: blob.url, authorization: { scheme: 'Bearer', value: access.token } };
    }
    return { url: blob.url };
  }

  const endpoint = new URL(service.url);
  return { container, description: `container "${settings.container}" at ${endpoint.origin}${endpoint.pathname}`, copySource };
}
