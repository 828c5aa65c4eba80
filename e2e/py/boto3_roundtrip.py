#!/usr/bin/env python3
"""boto3 round trip against a BleepStore endpoint; prints one JSON summary line on stdout.

Runs with any boto3 from 1.26 (Debian) to 1.43 (pip). Every check is recorded, failures do not
stop the run, so the calling test sees all of them at once.

usage: boto3_roundtrip.py ENDPOINT BUCKET WORKDIR [--multipart-threshold BYTES]
"""
import argparse
import hashlib
import json
import os
import sys

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from checks import check, expect, results, sha256_file
from botocore.exceptions import ClientError

SIZES = [("0B", 0), ("1KiB", 1024), ("10MiB", 10 * 1024 * 1024)]
SPECIAL_KEYS = [
    "with space/file name.txt",
    "unicodé/ключ/日本語/😀.bin",
    "plus+sign+key",
    "percent%key%20literal%",
    "bang!quote'paren()star*",
    "deep/a/b/c/d/e/slashes.txt",
]




def status_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]
    return 200


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("bucket")
    parser.add_argument("workdir")
    # boto3's default (8 MiB): upload_file/download_file of 10 MiB use multipart and ranged GETs
    parser.add_argument("--multipart-threshold", type=int, default=8 * 1024 * 1024)
    args = parser.parse_args()

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )
    transfer = TransferConfig(multipart_threshold=args.multipart_threshold,
                              multipart_chunksize=8 * 1024 * 1024)
    bucket = args.bucket

    check("create_bucket", lambda: s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"])
    check("head_bucket", lambda: s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"])

    for label, size in SIZES:
        src = os.path.join(args.workdir, "src-%s.bin" % label)
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        data = open(src, "rb").read()
        digest = hashlib.sha256(data).hexdigest()
        md5 = hashlib.md5(data).hexdigest()
        key = "put/%s.bin" % label

        def put_get_head_delete(key=key, data=data, digest=digest, md5=md5, size=size):
            put = s3.put_object(Bucket=bucket, Key=key, Body=data)
            expect(put["ETag"] == '"%s"' % md5, "put ETag %s != md5 %s" % (put["ETag"], md5))
            got = s3.get_object(Bucket=bucket, Key=key)
            body = got["Body"].read()
            expect(hashlib.sha256(body).hexdigest() == digest,
                   "get returned %d bytes with another digest" % len(body))
            expect(got["ContentLength"] == size, "get ContentLength %s" % got["ContentLength"])
            head = s3.head_object(Bucket=bucket, Key=key)
            expect(head["ContentLength"] == size, "head ContentLength %s" % head["ContentLength"])
            expect(head["ETag"] == '"%s"' % md5, "head ETag %s" % head["ETag"])
            delete = s3.delete_object(Bucket=bucket, Key=key)
            expect(delete["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete status")
            status = status_of(lambda: s3.head_object(Bucket=bucket, Key=key))
            expect(status == 404, "head after delete gave %s" % status)
            return size

        check("put_object/get/head/delete %s" % label, put_get_head_delete)

        def upload_download(src=src, digest=digest, label=label, size=size):
            key = "transfer/%s.bin" % label
            dst = os.path.join(args.workdir, "dst-%s.bin" % label)
            s3.upload_file(src, bucket, key, Config=transfer)
            s3.download_file(bucket, key, dst, Config=transfer)
            expect(sha256_file(dst) == digest, "download_file bytes differ (%d bytes)" % os.path.getsize(dst))
            head = s3.head_object(Bucket=bucket, Key=key)
            expect(head["ContentLength"] == size, "head ContentLength %s" % head["ContentLength"])
            if size >= args.multipart_threshold:
                expect("-" in head["ETag"], "expected a multipart ETag, got %s" % head["ETag"])
            s3.delete_object(Bucket=bucket, Key=key)
            os.remove(dst)
            return size

        check("upload_file/download_file %s" % label, upload_download)

    for key in SPECIAL_KEYS:
        def special(key=key):
            body = ("content of " + key).encode("utf-8")
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            expect(got == body, "get returned %r" % got[:80])
            head = s3.head_object(Bucket=bucket, Key=key)
            expect(head["ContentLength"] == len(body), "head ContentLength")
            s3.delete_object(Bucket=bucket, Key=key)
            status = status_of(lambda: s3.head_object(Bucket=bucket, Key=key))
            expect(status == 404, "head after delete gave %s" % status)
            return key

        check("special key %s" % key, special)

    def metadata():
        key = "meta/object.txt"
        s3.put_object(Bucket=bucket, Key=key, Body=b"hello", ContentType="text/plain",
                      Metadata={"color": "blue", "owner-name": "Jane"},
                      ContentDisposition='attachment; filename="a b.txt"', CacheControl="no-cache")
        head = s3.head_object(Bucket=bucket, Key=key)
        expect(head["Metadata"] == {"color": "blue", "owner-name": "Jane"}, "metadata %r" % head["Metadata"])
        expect(head["ContentType"] == "text/plain", "content type %r" % head["ContentType"])
        expect(head.get("ContentDisposition") == 'attachment; filename="a b.txt"', "disposition")
        expect(head.get("CacheControl") == "no-cache", "cache control")
        got = s3.get_object(Bucket=bucket, Key=key, Range="bytes=1-3")
        expect(got["Body"].read() == b"ell", "range bytes")
        expect(got["ResponseMetadata"]["HTTPStatusCode"] == 206, "range status")
        s3.delete_object(Bucket=bucket, Key=key)
        return "ok"

    check("metadata and range", metadata)

    def missing():
        status = status_of(lambda: s3.get_object(Bucket=bucket, Key="never/existed"))
        expect(status == 404, "get missing gave %s" % status)
        try:
            s3.get_object(Bucket=bucket, Key="never/existed")
        except ClientError as e:
            expect(e.response["Error"]["Code"] == "NoSuchKey", "code %s" % e.response["Error"]["Code"])
        return status

    check("missing key NoSuchKey", missing)
    check("delete_bucket", lambda: s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"])

    summary = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "ok": all(r["ok"] for r in results),
        "results": results,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
