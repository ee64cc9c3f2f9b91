// The official OpenAI Node SDK (npm `openai`, v6, pinned in package-lock.json) against
// the real md-converter server: what a user pointing an OpenAI client at us gets.
// Run by tests/integration/test_openai_sdk.sh (node --test).  The micro model has
// random weights: it produces text, but not words, so streamed and non-streamed
// results are compared with each other rather than with expected words.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI, { toFile } from 'openai';

import { FIXTURES, startServer } from './server.mjs';

const KEY = 'sdk-test-key';
const SHORT = path.join(FIXTURES, 'edge_speech_0.5s.wav'); // 0.5 s: one segment
const TWO_WINDOWS = path.join(FIXTURES, 'edge_35s_word_across_30s.wav'); // 35 s: two windows
const TEXT_FILE = path.join(FIXTURES, 'bad_meeting_notes.txt');
// Keeps a random-weight transcription short: a fixed language (no detection) and no
// temperature fallback (md-converter's no_fallback field; the SDK sends unknown body
// keys as form fields).
const FAST = { language: 'pt', no_fallback: 'true' };

let server;
let client;

const file = (p, name = path.basename(p)) => toFile(fs.readFileSync(p), name);

before(async () => {
  server = await startServer({ API_KEY: KEY, MAX_UPLOAD_MB: '2' });
  client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 120000 });
});

after(async () => {
  await server?.stop();
});

describe('response formats', () => {
  test('json (default) has text and usage {type: duration, seconds}', async () => {
    const r = await client.audio.transcriptions.create({ file: await file(SHORT), model: 'whisper-1', ...FAST });
    assert.equal(typeof r.text, 'string');
    assert.ok(r.text.length > 0, 'the micro model produces some text');
    assert.deepEqual(r.usage, { type: 'duration', seconds: 1 }); // 0.5 s, rounded up
  });

  for (const [fmt, check] of [
    ['text', (s) => assert.ok(s.length > 0 && !s.startsWith('{'), s)],
    ['srt', (s) => assert.match(s, /^1\r?\n00:00:00,000 --> 00:00:00,500/)],
    ['vtt', (s) => assert.match(s, /^WEBVTT\r?\n/)],
  ]) {
    test(`${fmt} comes back as a string`, async () => {
      const r = await client.audio.transcriptions.create({
        file: await file(SHORT),
        model: 'whisper-1',
        response_format: fmt,
        ...FAST,
      });
      assert.equal(typeof r, 'string');
      check(r);
    });
  }

  test('verbose_json has duration, segments and usage', async () => {
    const r = await client.audio.transcriptions.create({
      file: await file(TWO_WINDOWS),
      model: 'whisper-1',
      response_format: 'verbose_json',
      ...FAST,
    });
    assert.equal(r.language, 'portuguese');
    assert.ok(Math.abs(r.duration - 35) < 0.05, `duration ${r.duration}`);
    assert.deepEqual(r.usage, { type: 'duration', seconds: Math.ceil(r.duration) });
    assert.ok(r.segments.length >= 2, 'one segment per 30 s window at least');
    for (const s of r.segments) {
      for (const k of ['id', 'seek', 'start', 'end', 'text', 'tokens', 'temperature', 'avg_logprob',
        'compression_ratio', 'no_speech_prob'])
        assert.ok(k in s, k);
    }
  });

  test('the served model is accepted under its own name too', async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    const own = models.find((id) => id !== 'whisper-1');
    const r = await client.audio.transcriptions.create({ file: await file(SHORT), model: own, ...FAST });
    assert.equal(typeof r.text, 'string');
  });
});

describe('translations', () => {
  test('json and verbose_json (task translate)', async () => {
    const j = await client.audio.translations.create({ file: await file(SHORT), model: 'whisper-1', ...FAST });
    assert.equal(typeof j.text, 'string');
    assert.equal(j.usage.type, 'duration');
    const v = await client.audio.translations.create({
      file: await file(SHORT),
      model: 'whisper-1',
      response_format: 'verbose_json',
      ...FAST,
    });
    assert.equal(v.task, 'translate');
    const s = await client.audio.translations.create({
      file: await file(SHORT),
      model: 'whisper-1',
      response_format: 'srt',
      ...FAST,
    });
    assert.equal(typeof s, 'string');
    assert.match(s, /-->/);
  });

  test('stream=true is refused with param "stream" (OpenAI does not stream translations)', async () => {
    await assert.rejects(
      client.audio.translations.create({ file: await file(SHORT), model: 'whisper-1', stream: 'true', ...FAST }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'stream',
    );
  });
});

describe('models', () => {
  test('models.list() lists whisper-1 and the served model', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
      ids.push(m.id);
    }
    assert.ok(ids.includes('whisper-1'), ids.join());
    assert.ok(ids.includes('ggml-micro-random.bin'), ids.join());
  });

  test('models.retrieve("whisper-1")', async () => {
    const m = await client.models.retrieve('whisper-1');
    assert.equal(m.id, 'whisper-1');
    assert.equal(m.object, 'model');
  });

  test('an unknown model is a NotFoundError naming param "model"', async () => {
    await assert.rejects(client.models.retrieve('gpt-4o-transcribe'), (e) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(
      client.audio.transcriptions.create({ file: await file(SHORT), model: 'gpt-4o-transcribe', ...FAST }),
      (e) => e instanceof OpenAI.NotFoundError && e.param === 'model' && e.code === 'model_not_found' &&
        e.type === 'invalid_request_error',
    );
  });
});

describe('stream: true', () => {
  test('delta events as segments come, then done with the full text', async () => {
    const params = { file: await file(TWO_WINDOWS), model: 'whisper-1', ...FAST };
    const plain = await client.audio.transcriptions.create(params);
    const stream = await client.audio.transcriptions.create({ ...params, file: await file(TWO_WINDOWS), stream: true });
    const deltas = [];
    let done = null;
    for await (const ev of stream) {
      if (ev.type === 'transcript.text.delta') {
        assert.equal(done, null, 'no delta after done');
        assert.equal(typeof ev.delta, 'string');
        deltas.push(ev.delta);
      } else if (ev.type === 'transcript.text.done') {
        done = ev;
      } else {
        assert.fail(`unexpected event ${JSON.stringify(ev)}`);
      }
    }
    assert.ok(deltas.length >= 2, `one delta per segment (two windows), got ${deltas.length}`);
    assert.ok(done, 'a done event');
    assert.equal(done.text, plain.text, 'done.text equals the non-streamed text');
    assert.equal(deltas.join(''), done.text, 'the deltas add up to the text');
    assert.deepEqual(done.usage, { type: 'duration', seconds: 35 });
  });

  test('stream with include logprobs: per-delta and total logprobs', async () => {
    const stream = await client.audio.transcriptions.create({
      file: await file(SHORT),
      model: 'whisper-1',
      stream: true,
      include: ['logprobs'],
      ...FAST,
    });
    let n = 0;
    let done;
    for await (const ev of stream) {
      if (ev.type === 'transcript.text.delta') n += ev.logprobs.length;
      else done = ev;
    }
    assert.ok(n > 0);
    assert.equal(done.logprobs.length, n, 'done carries every token the deltas did');
  });

  test('stream with a non-json format is a BadRequestError naming "stream"', async () => {
    await assert.rejects(
      client.audio.transcriptions.create({
        file: await file(SHORT),
        model: 'whisper-1',
        stream: true,
        response_format: 'srt',
        ...FAST,
      }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'stream',
    );
  });

  test('a failure before the first event keeps its status (415 for a text file)', async () => {
    await assert.rejects(
      client.audio.transcriptions.create({ file: await file(TEXT_FILE), model: 'whisper-1', stream: true }),
      (e) => e instanceof OpenAI.APIError && e.status === 415 && e.param === 'file',
    );
  });
});

describe('include: ["logprobs"]', () => {
  test('json carries [{token, bytes, logprob}] whose bytes spell the text', async () => {
    const r = await client.audio.transcriptions.create({
      file: await file(SHORT),
      model: 'whisper-1',
      include: ['logprobs'],
      ...FAST,
    });
    assert.ok(Array.isArray(r.logprobs) && r.logprobs.length > 0);
    for (const lp of r.logprobs) {
      assert.equal(typeof lp.token, 'string');
      assert.ok(Array.isArray(lp.bytes) && lp.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
      assert.ok(typeof lp.logprob === 'number' && lp.logprob <= 0, `logprob ${lp.logprob}`);
    }
    const spelled = Buffer.from(r.logprobs.flatMap((lp) => lp.bytes)).toString('utf8');
    assert.equal(spelled.trim().replace(/\s+/g, ' '), r.text);
  });

  test('with a non-json format it is a BadRequestError naming "include"', async () => {
    await assert.rejects(
      client.audio.transcriptions.create({
        file: await file(SHORT),
        model: 'whisper-1',
        include: ['logprobs'],
        response_format: 'verbose_json',
        ...FAST,
      }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'include',
    );
  });
});

describe('errors map to the SDK error classes', () => {
  test('400 unknown response_format → BadRequestError, param response_format', async () => {
    await assert.rejects(
      client.audio.transcriptions.create({ file: await file(SHORT), model: 'whisper-1', response_format: 'srt_karaoke' }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'response_format' &&
        e.type === 'invalid_request_error' && /json, text, srt, vtt, verbose_json or diarized_json/.test(e.message),
    );
  });

  test('400 unknown language → BadRequestError, param language', async () => {
    await assert.rejects(
      client.audio.transcriptions.create({ file: await file(SHORT), model: 'whisper-1', language: 'klingon' }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'language' && /pt-BR/.test(e.message),
    );
  });

  test('401 wrong key → AuthenticationError (GET)', async () => {
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: `${server.url}/v1`, maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  });

  test('401 wrong key → AuthenticationError (upload)', async () => {
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: `${server.url}/v1`, maxRetries: 0 });
    await assert.rejects(
      bad.audio.transcriptions.create({ file: await file(SHORT), model: 'whisper-1' }),
      (e) => e instanceof OpenAI.AuthenticationError,
    );
  });

  for (const mb of [2.5, 20]) {
    test(`413 too large (${mb} MB, MAX_UPLOAD_MB=2) → APIError status 413, param file`, async () => {
      // refused from the Content-Length before the body: the answer is written, then the
      // body drained, so the SDK (Node's fetch) reads the 413 instead of a reset
      await assert.rejects(
        client.audio.transcriptions.create({ file: await toFile(Buffer.alloc(mb * 1048576), 'big.wav'), model: 'whisper-1' }),
        (e) => e instanceof OpenAI.APIError && e.status === 413 && e.param === 'file' && e.code === 'file_too_large',
      );
    });
  }

  test('415 not audio → APIError status 415, param file', async () => {
    await assert.rejects(
      client.audio.transcriptions.create({ file: await file(TEXT_FILE), model: 'whisper-1' }),
      (e) => e instanceof OpenAI.APIError && e.status === 415 && e.param === 'file' && e.type === 'invalid_request_error',
    );
  });
});

describe('language forms', () => {
  for (const [given, name] of [['pt-BR', 'portuguese'], ['PT', 'portuguese'], ['pt_br', 'portuguese'],
    ['en-US', 'english'], ['German', 'german']]) {
    test(`language "${given}" → ${name}`, async () => {
      const r = await client.audio.transcriptions.create({
        file: await file(SHORT),
        model: 'whisper-1',
        response_format: 'verbose_json',
        language: given,
        no_fallback: 'true',
      });
      assert.equal(r.language, name);
    });
  }
});

// Exactly as the SDK's README shows: the file as a stream.  The SDK then sends each
// field's value in a network read of its own, the case issue 8 item 1 was about (fixed by
// the multipart parser in src/service/multipart.c).
describe('fs.createReadStream uploads (the README way)', () => {
  test('response_format srt comes back as a string; language is honoured', async () => {
    const srt = await client.audio.transcriptions.create({
      file: fs.createReadStream(SHORT),
      model: 'whisper-1',
      response_format: 'srt',
      ...FAST,
    });
    assert.equal(typeof srt, 'string');
    assert.match(srt, /-->/);
    for (const [code, name] of [['pt', 'portuguese'], ['de', 'german']]) {
      const v = await client.audio.transcriptions.create({
        file: fs.createReadStream(SHORT),
        model: 'whisper-1',
        response_format: 'verbose_json',
        language: code,
        no_fallback: 'true',
      });
      assert.equal(v.language, name);
    }
  });
});
