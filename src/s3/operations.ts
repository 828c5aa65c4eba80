// Operation name → implementation, one entry per row of the route table.
import type { OperationHandler } from './context.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './ops/buckets.js';
import { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from './ops/acl.js';
import { copyObject, uploadPartCopy } from './ops/copy.js';
import { deleteObjects } from './ops/delete-objects.js';
import { listObjectsV1, listObjectsV2 } from './ops/listing.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './ops/multipart.js';
import { deleteObject, getObject, headObject, putObject } from './ops/objects.js';
import type { OperationName } from './routes.js';

export const OPERATION_HANDLERS: Record<OperationName, OperationHandler> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  DeleteBucket: deleteBucket,
  HeadBucket: headBucket,
  GetBucketLocation: getBucketLocation,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
  GetBucketAcl: getBucketAcl,
  PutBucketAcl: putBucketAcl,
  GetObjectAcl: getObjectAcl,
  PutObjectAcl: putObjectAcl,
  ListObjects: listObjectsV1,
  ListObjectsV2: listObjectsV2,
  DeleteObjects: deleteObjects,
  CopyObject: copyObject,
  UploadPartCopy: uploadPartCopy,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  ListMultipartUploads: listMultipartUploads,
};
