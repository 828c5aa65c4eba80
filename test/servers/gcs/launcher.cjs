// Starts the firebase-tools Storage emulator (GCS JSON API) alone on 127.0.0.1, without the Java
// security-rules runtime that `firebase emulators:start` insists on (the GCS routes never consult
// rules). Usage: node launcher.cjs PORT [PROJECT_ID]. Reaches into firebase-tools internals, so
// package.json pins firebase-tools exactly. Blobs go to $TMPDIR/firebase/storage/blobs: give each
// instance its own TMPDIR.
'use strict';
const path = require('node:path');

const port = Number(process.argv[2]);
const projectId = process.argv[3] || 'demo-bleepstore';
const lib = path.join(path.dirname(require.resolve('firebase-tools/package.json')), 'lib');

// The emulator caps upload bodies at 130 MB (body-parser limits); lift that so large-object
// throughput can be measured. Must run before the routes are defined.
const bodyParser = require(require.resolve('body-parser', { paths: [lib] }));
const makeRawParser = bodyParser.raw;
Object.defineProperty(bodyParser, 'raw', { configurable: true, value: (opts) => makeRawParser({ ...opts, limit: '4gb' }) });

// It also keys objects by path.join(bucket, name), which folds "a/../b" into "b" and "a//b" into
// "a/b"; GCS names are literal, so key them literally.
const { StorageLayer } = require(path.join(lib, 'emulator/storage/files.js'));
StorageLayer.prototype.path = (bucket, name) => `${bucket}/${name}`;

const { StorageEmulator } = require(path.join(lib, 'emulator/storage/index.js'));
const { EmulatorRegistry } = require(path.join(lib, 'emulator/registry.js'));
const { createApp } = require(path.join(lib, 'emulator/storage/server.js'));

const emulator = new StorageEmulator({ projectId, host: '127.0.0.1', port, rules: undefined, auto_download: false });
// Object metadata builds selfLink/mediaLink from the registered instance.
EmulatorRegistry.set('storage', emulator);
Promise.resolve(createApp(projectId, emulator)).then((app) => {
  const server = app.listen(port, '127.0.0.1', () => console.log(`GCS storage emulator (firebase-tools) listening on 127.0.0.1:${port}`));
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
