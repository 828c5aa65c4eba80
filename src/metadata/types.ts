// Metadata records and the MetadataStore interface (spec/metadata.md §1, §3).
// Field names are the SQLite column names so every engine and the export format share one shape.

/** Content headers stored with objects and multipart uploads; null when the header was absent. */
export interface ContentFields {
  content_type: string;
  content_encoding: string | null;
  content_language: string | null;
  content_disposition: string | null;
  cache_control: string | null;
  expires: string | null;
}

export interface BucketRecord {
  name: string;
  region: string;
  owner_id: string;
  owner_display: string;
  /** ACL JSON text (metadata.md §2); '{}' = default. */
  acl: string;
  /** ISO 8601 with .000Z */
  created_at: string;
}

export interface ObjectRecord extends ContentFields {
  bucket: string;
  key: string;
  size: number;
  /** Quoted ETag, e.g. '"d41d8cd98f00b204e9800998ecf8427e"'. */
  etag: string;
  storage_class: string;
  acl: string;
  /** JSON text of string->string, keys stored as 'x-amz-meta-name'. */
  user_metadata: string;
  last_modified: string;
  delete_marker: boolean;
  /**
   * The verified whole-object checksum, when the upload carried one (beyond upstream: the spec
   * tables have no column for it, so engines keep it beside the object row).
   */
  checksum?: ObjectChecksum | null;
}

export interface ObjectChecksum {
  /** 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256' */
  algorithm: string;
  /** base64 of the big-endian digest, as on the wire */
  value: string;
}

export interface UploadRecord extends ContentFields {
  upload_id: string;
  bucket: string;
  key: string;
  storage_class: string;
  acl: string;
  user_metadata: string;
  owner_id: string;
  owner_display: string;
  initiated_at: string;
  /**
   * Beyond upstream (side table, like ObjectRecord.checksum): the flexible checksum algorithm
   * ('crc32' ...) and type ('COMPOSITE' | 'FULL_OBJECT') declared by CreateMultipartUpload.
   * Engines return the fields only when the upload declared an algorithm.
   */
  checksum_algorithm?: string | null;
  checksum_type?: string | null;
}

export interface PartRecord {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  last_modified: string;
  /** Beyond upstream: the part's verified checksum; engines return it only when there is one. */
  checksum?: ObjectChecksum | null;
}

export interface CredentialRecord {
  access_key_id: string;
  secret_key: string;
  owner_id: string;
  display_name: string;
  active: boolean;
  created_at: string;
}

export interface ListObjectsOptions {
  prefix: string;
  /** '' = no delimiter. Any string, not only '/'. */
  delimiter: string;
  /** 0..1000 */
  maxKeys: number;
  /** Exclusive start: skip entries (keys or common prefixes) <= this. '' = from the start. */
  startAfter: string;
}

export interface ListObjectsResult {
  contents: ObjectRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last emitted entry (key or common prefix) when truncated. */
  nextMarker?: string;
}

export interface ListUploadsOptions {
  prefix: string;
  delimiter: string;
  maxUploads: number;
  keyMarker: string;
  uploadIdMarker: string;
}

export interface ListUploadsResult {
  uploads: UploadRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface ListPartsResult {
  parts: PartRecord[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface ReapedUpload {
  upload_id: string;
  bucket: string;
  key: string;
}

/** Thrown by createBucket when the name is taken. */
export class BucketExistsError extends Error {
  constructor(readonly bucket: string) {
    super(`bucket ${bucket} already exists`);
    this.name = 'BucketExistsError';
  }
}

/** The metadata write that makes one published data file visible (s3/publish.ts). */
export type CommitAction =
  | { kind: 'object'; object: ObjectRecord }
  | { kind: 'part'; uploadId: string; partNumber: number; size: number; etag: string; checksum?: ObjectChecksum | null }
  | { kind: 'complete'; bucket: string; key: string; uploadId: string; object: ObjectRecord };

/**
 * Write-ahead record of one publish: recorded before the staged file is renamed into place and
 * cleared after the metadata commit. A start that finds one rolls it forward when the rename
 * happened (the staged file is gone) and drops it otherwise, so a kill -9 between rename and
 * metadata commit never leaves new bytes under the old row.
 */
export interface CommitIntent {
  id: string;
  staged_path: string;
  action: CommitAction;
  created_at: string;
}

export interface MetadataStore {
  init(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;

  createBucket(bucket: BucketRecord): Promise<void>;
  getBucket(name: string): Promise<BucketRecord | null>;
  bucketExists(name: string): Promise<boolean>;
  listBuckets(ownerId?: string): Promise<BucketRecord[]>;
  deleteBucket(name: string): Promise<void>;
  updateBucketAcl(name: string, acl: string): Promise<void>;

  putObject(obj: ObjectRecord): Promise<void>;
  getObject(bucket: string, key: string): Promise<ObjectRecord | null>;
  objectExists(bucket: string, key: string): Promise<boolean>;
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Returns the keys that existed. */
  deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]>;
  updateObjectAcl(bucket: string, key: string, acl: string): Promise<void>;
  listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult>;
  countObjects(bucket: string): Promise<number>;

  createMultipartUpload(upload: UploadRecord): Promise<void>;
  getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null>;
  /** Upsert; a part without `checksum` replaces one that had a checksum. */
  putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void>;
  listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult>;
  getPartsForCompletion(uploadId: string): Promise<PartRecord[]>;
  /** Atomically: upsert the object, delete the upload's parts and the upload. */
  completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult>;

  /** Only active credentials. */
  getCredential(accessKeyId: string): Promise<CredentialRecord | null>;
  /** Upsert; keeps created_at of an existing row. */
  putCredential(cred: CredentialRecord): Promise<void>;

  reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]>;

  recordCommitIntent(intent: CommitIntent): Promise<void>;
  clearCommitIntent(id: string): Promise<void>;
  listCommitIntents(): Promise<CommitIntent[]>;
}
