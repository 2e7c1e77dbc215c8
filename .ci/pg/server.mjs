// A throwaway PostgreSQL with pgvector for keel's tests: PGlite (the real
// PostgreSQL compiled to WebAssembly, in memory) with the real pgvector
// extension, served over the PostgreSQL wire protocol on a loopback port.
//
//   node server.mjs --port 5499        (or KEEL_PG_PORT=5499 node server.mjs)
//
// It prints one line starting with "ready" once it accepts connections, and
// exits 0 on SIGTERM or SIGINT. Any user, database and password are accepted;
// the session is always user postgres in database postgres.
//
// PGlite is one PostgreSQL backend, so it has one session. The stock socket
// server (@electric-sql/pglite-socket) either lets a second client share that
// session (SET, search_path and prepared statements leak between clients) or,
// allowing one connection, rejects a client that reconnects before the close
// of the last one has been processed, and it keeps a connection open after
// the client's Terminate message. So this script puts a gate in front of it:
// clients are served whole, one at a time, in the order they connected (the
// others wait, connected), a Terminate ends the session as on a real server,
// and the session is reset between two clients as if each had its own
// backend. A test's pool must therefore hold at most one connection.
import { createServer, connect } from 'node:net';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.KEEL_PG_PORT ?? '' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const port = Number.parseInt(args.port, 10);
if (!/^\d+$/.test(args.port) || port > 65535) {
  console.error(`server.mjs: give a port with --port N or KEEL_PG_PORT (got ${JSON.stringify(args.port)})`);
  process.exit(2);
}

const db = await PGlite.create({ dataDir: 'memory://', extensions: { vector } });
// Fail at start-up, not in the first test, if the extension cannot load.
await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
const {
  rows: [info],
} = await db.query(
  "SELECT current_setting('server_version') AS pg, extversion AS vector FROM pg_extension WHERE extname = 'vector'",
);

// The stock server, on a loopback port of its own that only the gate uses.
const backend = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
await backend.start();
const backendPort = Number(backend.getServerConn().split(':').pop());

// Protocol codes of the messages the gate looks at.
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const TERMINATE = 0x58; // 'X'

// messageTracker follows the boundaries of the messages a client sends (an
// untyped start-up phase, then a type byte and a length each) without
// holding their bodies. feed returns "terminate" once the client has sent
// Terminate, "invalid" for a length no message can have, and "" otherwise.
function messageTracker() {
  let startup = true;
  let skip = 0; // bytes of the current message body still to pass
  let head = Buffer.alloc(0);
  return (chunk) => {
    let off = 0;
    while (off < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - off);
        skip -= n;
        off += n;
        continue;
      }
      const need = startup ? 8 : 5;
      const take = Math.min(need - head.length, chunk.length - off);
      head = Buffer.concat([head, chunk.subarray(off, off + take)]);
      off += take;
      if (head.length < need) break;
      if (startup) {
        const len = head.readInt32BE(0);
        const code = head.readInt32BE(4);
        if (len < 8) return 'invalid';
        // SSL and GSS encryption requests come before the start-up message.
        if (!(len === 8 && (code === SSL_REQUEST || code === GSSENC_REQUEST))) startup = false;
        skip = len - 8;
      } else {
        const len = head.readInt32BE(1);
        if (len < 4) return 'invalid';
        if (head[0] === TERMINATE) return 'terminate';
        skip = len - 4;
      }
      head = Buffer.alloc(0);
    }
    return '';
  };
}

// A Sync ends an extended-protocol exchange a client abandoned mid-way (the
// backend would ignore everything until one); then ROLLBACK and DISCARD ALL
// return the session to its initial state.
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
async function resetSession() {
  await db.runExclusive(() => db.execProtocolRaw(SYNC));
  if (db.isInTransaction()) await db.exec('ROLLBACK');
  await db.exec('DISCARD ALL');
}

async function backendIdle() {
  // The stock server forgets a closed connection an event-loop turn later.
  while (backend.getStats().activeConnections > 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const waiting = []; // {socket, received}: paused after their first bytes, in arrival order
let current = null; // the one being served
let stopping = false;

function serveNext() {
  if (current !== null || stopping) return;
  const next = waiting.shift();
  if (next === undefined) return;
  if (next.socket.destroyed) return serveNext();
  current = next;
  const { socket: client, received } = next;
  const upstream = connect({ host: '127.0.0.1', port: backendPort, noDelay: true });
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    client.destroy();
    upstream.destroy();
    try {
      await backendIdle();
      await resetSession();
    } catch (err) {
      // A session that cannot be reset would leak into the next client.
      console.error('server.mjs: cannot reset the session:', err);
      process.exit(1);
    }
    current = null;
    serveNext();
  };
  client.on('error', finish).on('close', finish);
  upstream.on('error', finish).on('close', finish);
  const track = messageTracker();
  const forward = (chunk) => {
    if (finished) return;
    const seen = track(chunk);
    if (seen !== '') return finish(); // a real server closes on both
    if (!upstream.write(chunk)) {
      client.pause();
      upstream.once('drain', () => client.resume());
    }
  };
  upstream.on('connect', () => {
    client.removeAllListeners('data');
    for (const chunk of received) forward(chunk);
    client.on('data', forward);
    upstream.pipe(client);
    client.resume();
  });
}

// A CancelRequest comes on a connection of its own, which a server answers
// by closing it. PGlite cannot cancel (a query runs to its end), and queued
// behind the session it means to cancel, such a connection would hold up
// the gate until the client gave up on it, so it is closed at once. Every
// other connection waits its turn, its first bytes kept.
const gate = createServer({ noDelay: true }, (client) => {
  if (stopping) return client.destroy();
  const received = [];
  let size = 0;
  client.on('error', () => client.destroy());
  client.on('data', (chunk) => {
    received.push(chunk);
    size += chunk.length;
    if (size < 8) return;
    client.pause(); // until served; the kernel holds the rest
    client.removeAllListeners('data');
    const head = Buffer.concat(received);
    if (head.readInt32BE(0) === 16 && head.readInt32BE(4) === CANCEL_REQUEST) {
      client.destroy();
      return;
    }
    waiting.push({ socket: client, received });
    serveNext();
  });
});
gate.on('error', (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});
gate.listen(port, args.host, () => {
  const addr = gate.address();
  console.log(
    `ready on ${addr.address}:${addr.port}: PostgreSQL ${info.pg}, pgvector ${info.vector}, one session at a time`,
  );
});

async function shutdown() {
  if (stopping) return;
  stopping = true;
  gate.close();
  for (const w of waiting.splice(0)) w.socket.destroy();
  current?.socket.destroy();
  await backend.stop();
  await db.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
