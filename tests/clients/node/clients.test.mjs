// ioredis and node-redis (v4) against corral: what applications do with them — pipelines,
// MULTI/WATCH, pub/sub, blocking pops, ACL users. Neither speaks RESP3 (node-redis v4 and ioredis 5 are
// RESP2 clients): node-redis v5's client (@redis/client 5, installed as `redis-resp3`) is used with
// RESP: 3 for the RESP3 tests.
// Started by tests/clients/run.py, which sets CORRAL_PORT (corral in front of a redis-server that has
// the ACL user alice/pw).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import Redis from 'ioredis';
import { commandOptions, createClient } from 'redis';
import { createClient as createResp3Client } from 'redis-resp3';

const port = Number(process.env.CORRAL_PORT);
assert.ok(port > 0, 'CORRAL_PORT must be set (tests/clients/run.py)');

/// Resolves when `predicate()` holds, checking every 10 ms for up to 5 s.
async function eventually(predicate) {
  for (let i = 0; i < 500; ++i) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('condition not reached within 5 s');
}

describe('ioredis', () => {
  const clients = [];
  const open = (options = {}) => {
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, ...options });
    clients.push(client);
    return client;
  };
  after(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  });

  test('pipeline', async () => {
    const r = open();
    const results = await r.pipeline().set('io:p', '1').incr('io:p').incrby('io:p', 5).get('io:p').exec();
    assert.deepEqual(results, [[null, 'OK'], [null, 2], [null, 7], [null, '7']]);
  });

  test('MULTI/EXEC and WATCH', async () => {
    const r = open();
    const other = open();
    assert.deepEqual(await r.multi().set('io:m', 'a').get('io:m').exec(), [[null, 'OK'], [null, 'a']]);
    await r.watch('io:m');
    await other.set('io:m', 'changed');
    assert.equal(await r.multi().set('io:m', 'mine').exec(), null);
    assert.equal(await r.get('io:m'), 'changed');
    await r.watch('io:m');
    assert.deepEqual(await r.multi().set('io:m', 'mine').exec(), [[null, 'OK']]);
  });

  test('pub/sub', async () => {
    const subscriber = open();
    const publisher = open();
    const received = [];
    subscriber.on('message', (channel, message) => received.push([channel, message]));
    subscriber.on('pmessage', (pattern, channel, message) => received.push([pattern, channel, message]));
    await subscriber.subscribe('io:chan');
    await subscriber.psubscribe('io:pat*');
    assert.equal(await publisher.publish('io:chan', 'hello'), 1);
    assert.equal(await publisher.publish('io:pattern', 'world'), 1);
    await eventually(() => received.length === 2);
    assert.deepEqual(received, [['io:chan', 'hello'], ['io:pat*', 'io:pattern', 'world']]);
    // By name: ioredis's unsubscribe() without arguments waits forever while patterns remain, direct too.
    await subscriber.unsubscribe('io:chan');
    await subscriber.punsubscribe('io:pat*');
    assert.equal(await publisher.publish('io:chan', 'nobody'), 0);
    assert.equal(await subscriber.ping(), 'PONG');  // an ordinary connection again
  });

  test('blocking pops', async () => {
    const r = open();
    const pusher = open();
    await r.del('io:list');
    assert.equal(await r.blpop('io:list', 0.05), null);
    const popped = r.blpop('io:list', 5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pusher.rpush('io:list', 'x');
    assert.deepEqual(await popped, ['io:list', 'x']);
  });

  test('ACL user', async () => {
    const alice = open({ username: 'alice', password: 'pw' });
    assert.equal(await alice.call('ACL', 'WHOAMI'), 'alice');
    const r = open();
    await assert.rejects(r.call('AUTH', 'alice', 'wrong'), /WRONGPASS/);
    assert.equal(await r.call('ACL', 'WHOAMI'), 'default');
    assert.equal(await r.call('AUTH', 'alice', 'pw'), 'OK');
    assert.equal(await r.call('ACL', 'WHOAMI'), 'alice');
  });

  test('CLIENT LIST names corral\'s clients', async () => {
    const r = open({ connectionName: 'io-lister' });
    const id = await r.client('ID');
    const list = await r.client('LIST');
    assert.match(list, new RegExp(`id=${id} .* name=io-lister `));
  });
});

describe('node-redis', () => {
  const clients = [];
  const open = async (options = {}) => {
    const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, ...options });
    client.on('error', () => {});
    clients.push(client);
    await client.connect();
    return client;
  };
  after(async () => {
    await Promise.all(clients.filter((c) => c.isOpen).map((c) => c.quit()));
  });

  test('pipeline (auto-pipelined commands) and multi', async () => {
    const r = await open();
    await r.del('nr:p');
    const [set, incr, get] = await Promise.all([r.set('nr:p', '1'), r.incr('nr:p'), r.get('nr:p')]);
    assert.deepEqual([set, incr, get], ['OK', 2, '2']);
    assert.deepEqual(await r.multi().set('nr:m', 'a').get('nr:m').exec(), ['OK', 'a']);
  });

  test('WATCH in an isolated connection', async () => {
    const r = await open();
    const other = await open();
    await r.set('nr:w', '0');
    await assert.rejects(
      r.executeIsolated(async (isolated) => {
        await isolated.watch('nr:w');
        await other.set('nr:w', 'changed');
        return isolated.multi().set('nr:w', 'mine').exec();
      }),
      /watched keys has been changed/,
    );
    assert.equal(await r.get('nr:w'), 'changed');
  });

  test('pub/sub', async () => {
    const publisher = await open();
    const subscriber = await open();
    const received = [];
    await subscriber.subscribe('nr:chan', (message, channel) => received.push([channel, message]));
    assert.equal(await publisher.publish('nr:chan', 'hello'), 1);
    await eventually(() => received.length === 1);
    assert.deepEqual(received, [['nr:chan', 'hello']]);
    await subscriber.unsubscribe('nr:chan');
    assert.equal(await publisher.publish('nr:chan', 'nobody'), 0);
  });

  test('blocking pop', async () => {
    const r = await open();
    const pusher = await open();
    await r.del('nr:list');
    const popped = r.blPop(commandOptions({ isolated: true }), 'nr:list', 5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pusher.rPush('nr:list', 'x');
    assert.deepEqual(await popped, { key: 'nr:list', element: 'x' });
  });

  test('ACL user', async () => {
    const alice = await open({ username: 'alice', password: 'pw' });
    assert.equal(await alice.sendCommand(['ACL', 'WHOAMI']), 'alice');
    const wrong = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, username: 'alice',
                                 password: 'wrong' });
    wrong.on('error', () => {});
    await assert.rejects(wrong.connect(), /WRONGPASS/);
  });
});

describe('node-redis v5 with RESP3', () => {
  const clients = [];
  const open = async (options = {}) => {
    const client = createResp3Client({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, RESP: 3,
                                       ...options });
    client.on('error', () => {});
    clients.push(client);
    await client.connect();
    return client;
  };
  after(async () => {
    await Promise.all(clients.filter((c) => c.isOpen).map((c) => c.close()));
  });

  test('HELLO 3: the session is RESP3 and replies have RESP3 types', async () => {
    const r = await open();
    assert.match(await r.sendCommand(['CLIENT', 'INFO']), / resp=3 /);
    await r.del('r3:z');
    await r.zAdd('r3:z', { score: 1.5, value: 'm' });
    assert.equal(await r.sendCommand(['ZSCORE', 'r3:z', 'm']), 1.5);  // a RESP3 double, not a string
    await r.hSet('r3:h', { a: '1', b: '2' });
    const map = await r.sendCommand(['HGETALL', 'r3:h']);  // a RESP3 map
    assert.deepEqual(Object.fromEntries(map instanceof Map ? map : Object.entries(map)), { a: '1', b: '2' });
  });

  test('pipeline, multi and ACL user', async () => {
    const alice = await open({ username: 'alice', password: 'pw' });
    assert.equal(await alice.sendCommand(['ACL', 'WHOAMI']), 'alice');
    const [set, incr] = await Promise.all([alice.set('r3:p', '1'), alice.incr('r3:p')]);
    assert.deepEqual([set, incr], ['OK', 2]);
    assert.deepEqual(await alice.multi().set('r3:m', 'a').get('r3:m').exec(), ['OK', 'a']);
  });

  test('pub/sub pushes and commands on the same connection', async () => {
    const publisher = await open();
    const subscriber = await open();
    const received = [];
    await subscriber.subscribe('r3:chan', (message, channel) => received.push([channel, message]));
    assert.equal(await subscriber.ping(), 'PONG');  // RESP3: ordinary commands while subscribed
    assert.equal(await publisher.publish('r3:chan', 'hello'), 1);
    await eventually(() => received.length === 1);
    assert.deepEqual(received, [['r3:chan', 'hello']]);
    await subscriber.unsubscribe('r3:chan');
  });

  test('blocking pop', async () => {
    const r = await open();
    const pusher = await open();
    await r.del('r3:list');
    const popped = r.blPop('r3:list', 5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pusher.rPush('r3:list', 'x');
    assert.deepEqual(await popped, { key: 'r3:list', element: 'x' });
  });
});
