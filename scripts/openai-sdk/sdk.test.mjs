// The official OpenAI Node SDK (openai 7.x, pinned in package-lock.json), unchanged,
// against a running easel server: EASEL_URL (e.g. http://127.0.0.1:8080) and EASEL_KEY,
// set by scripts/openai-sdk/run.sh. The server's default model must be the offline one.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const base = process.env.EASEL_URL;
const key = process.env.EASEL_KEY;
if (!base || !key) throw new Error("EASEL_URL and EASEL_KEY are not set: run scripts/openai-sdk/run.sh");

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 60_000 });

/** Checks that bytes are a PNG of side x side pixels (width and height from IHDR). */
function assertPNG(bytes, side) {
  assert.equal(bytes.subarray(1, 4).toString("latin1"), "PNG", "not a PNG");
  assert.equal(bytes.readUInt32BE(16), side, "width");
  assert.equal(bytes.readUInt32BE(20), side, "height");
}

test("models.list answers OpenAI's list shape with Easel's fields", async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    ids.push(m.id);
    assert.equal(m.object, "model");
    assert.ok(m.created > 0, "created");
    assert.ok(m.owned_by, "owned_by");
    assert.ok(m.max_prompt_length > 0, "Easel's max_prompt_length");
  }
  assert.equal(ids[0], "offline");
  const first = (await client.models.list()).data[0];
  assert.equal(first.default, true);
});

test("models.retrieve", async () => {
  const m = await client.models.retrieve("offline");
  assert.equal(m.id, "offline");
  await assert.rejects(client.models.retrieve("no-such-model"), (err) => {
    assert.ok(err instanceof OpenAI.NotFoundError, `${err}`);
    assert.equal(err.type, "invalid_request_error");
    return true;
  });
});

test("images.generate with a GPT image model answers b64_json, accepting every field", async () => {
  const res = await client.images.generate({
    model: "gpt-image-1",
    prompt: "a lighthouse at dusk",
    size: "256x256",
    n: 2,
    quality: "high",
    background: "auto",
    moderation: "low",
    output_format: "png",
    output_compression: 90,
    partial_images: 0,
    user: "user-1234",
  });
  assert.equal(res.data.length, 2);
  assert.ok(res.created > 0);
  assert.equal(res.output_format, "png");
  assert.equal(res.size, "256x256");
  for (const d of res.data) {
    assert.equal(d.url, undefined);
    assertPNG(Buffer.from(d.b64_json, "base64"), 256);
  }
});

test("images.generate with dall-e answers a URL; response_format overrides", async () => {
  for (const body of [
    { model: "dall-e-3", prompt: "a red kite", size: "256x256" },
    { model: "gpt-image-1", prompt: "a red kite", size: "256x256", response_format: "url" },
  ]) {
    const res = await client.images.generate(body);
    assert.equal(res.data.length, 1);
    assert.equal(res.data[0].b64_json, undefined);
    const img = await fetch(res.data[0].url);
    assert.equal(img.status, 200);
    assertPNG(Buffer.from(await img.arrayBuffer()), 256);
  }
  const res = await client.images.generate({ model: "dall-e-2", prompt: "a kite", size: "256x256", response_format: "b64_json" });
  assertPNG(Buffer.from(res.data[0].b64_json, "base64"), 256);
});

test("images.generate with stream: true yields image_generation.completed", async () => {
  const stream = await client.images.generate({
    model: "gpt-image-1",
    prompt: "a quiet harbour",
    size: "256x256",
    stream: true,
    partial_images: 1,
  });
  const events = [];
  for await (const ev of stream) events.push(ev);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "image_generation.completed");
  assertPNG(Buffer.from(events[0].b64_json, "base64"), 256);
});

test("errors carry type and param", async () => {
  await assert.rejects(client.images.generate({ prompt: "p", size: "300x256" }), (err) => {
    assert.ok(err instanceof OpenAI.BadRequestError, `${err}`);
    assert.equal(err.param, "size");
    assert.equal(err.type, "invalid_request_error");
    assert.equal(err.code, "invalid_request");
    return true;
  });
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: "easel_not-a-key", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `${err}`);
    assert.equal(err.type, "authentication_error");
    return true;
  });
});
