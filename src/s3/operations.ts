// Operation name → implementation. Operations of the route table without an entry here answer
// 501 NotImplemented until they are built.
import type { OperationHandler } from './context.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './ops/buckets.js';
import { deleteObject, getObject, headObject, putObject } from './ops/objects.js';
import type { OperationName } from './routes.js';

export const OPERATION_HANDLERS: Partial<Record<OperationName, OperationHandler>> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  DeleteBucket: deleteBucket,
  HeadBucket: headBucket,
  GetBucketLocation: getBucketLocation,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
};
