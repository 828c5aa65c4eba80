#!/usr/bin/env python3
"""boto3 managed transfers with multipart thresholds crossed; prints one JSON summary line.

Runs under Debian's boto3 1.26 and pip's boto3 1.43. Every check is recorded; a failure does not
stop the run, so the calling test sees all failures at once.

usage: boto3_multipart.py ENDPOINT BUCKET WORKDIR
"""
import hashlib
import io
import json
import os
import sys

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from checks import check, expect, results, sha256_file

MiB = 1024 * 1024
THRESHOLD = 8 * MiB



def write_random(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            block = os.urandom(min(left, MiB))
            h.update(block)
            f.write(block)
            left -= len(block)
    return h.hexdigest()


def main():
    endpoint, bucket, workdir = sys.argv[1:4]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )
    transfer = TransferConfig(multipart_threshold=THRESHOLD, multipart_chunksize=THRESHOLD,
                              max_concurrency=4)
    check("create_bucket", lambda: s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"])

    # 8 MiB exactly (the threshold: one-part multipart), 8 MiB + 1 and 37 MiB (ragged last part).
    for label, size, parts in [("8MiB", THRESHOLD, 1), ("8MiB+1", THRESHOLD + 1, 2), ("37MiB", 37 * MiB, 5)]:
        src = os.path.join(workdir, "src-%s.bin" % label)
        digest = write_random(src, size)
        key = "mp/%s ünï+%%.bin" % label

        def roundtrip(src=src, digest=digest, key=key, size=size, parts=parts, label=label):
            s3.upload_file(src, bucket, key, Config=transfer)
            head = s3.head_object(Bucket=bucket, Key=key)
            expect(head["ContentLength"] == size, "ContentLength %s != %s" % (head["ContentLength"], size))
            expect(head["ETag"].endswith('-%d"' % parts), "ETag %s is not a %d-part ETag" % (head["ETag"], parts))
            dst = os.path.join(workdir, "dst-%s.bin" % label)
            s3.download_file(bucket, key, dst, Config=transfer)
            expect(sha256_file(dst) == digest, "download_file bytes differ")
            os.remove(dst)
            return head["ETag"]

        check("upload_file/download_file %s" % label, roundtrip)

        if label == "37MiB":
            def managed_copy(key=key, digest=digest, size=size):
                # Above the threshold boto3 copies with CreateMultipartUpload + UploadPartCopy.
                s3.copy({"Bucket": bucket, "Key": key}, bucket, "copy/of 37MiB", Config=transfer)
                head = s3.head_object(Bucket=bucket, Key="copy/of 37MiB")
                expect(head["ContentLength"] == size, "copy ContentLength %s" % head["ContentLength"])
                expect(head["ETag"].endswith('-5"'), "copy ETag %s is not a 5-part ETag" % head["ETag"])
                dst = os.path.join(workdir, "copy.bin")
                s3.download_file(bucket, "copy/of 37MiB", dst, Config=transfer)
                expect(sha256_file(dst) == digest, "managed copy bytes differ")
                os.remove(dst)
                return head["ETag"]

            check("managed multipart copy (UploadPartCopy) 37MiB", managed_copy)
        os.remove(src)

    def fileobj():
        data = os.urandom(9 * MiB + 123)
        s3.upload_fileobj(io.BytesIO(data), bucket, "mp/fileobj", Config=transfer)
        out = io.BytesIO()
        s3.download_fileobj(bucket, "mp/fileobj", out, Config=transfer)
        expect(out.getvalue() == data, "download_fileobj bytes differ (%d bytes)" % len(out.getvalue()))
        return len(data)

    check("upload_fileobj/download_fileobj 9MiB", fileobj)

    def no_uploads_left():
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        expect(uploads == [], "uploads left behind: %r" % uploads)
        return 0

    check("no multipart uploads left", no_uploads_left)

    summary = {
        "python": sys.version.split()[0],
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "ok": all(r["ok"] for r in results),
        "results": results,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
