// The official OpenAI Node SDK (openai 7.x, pinned in package-lock.json), unchanged,
// against a running easel server: EASEL_URL (e.g. http://127.0.0.1:8080) and EASEL_KEY,
// set by scripts/openai-sdk/run.sh. The server's default model must be the offline one.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import { deflateSync } from "node:zlib";

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

/** Encodes an RGBA PNG of side x side pixels, pixel(x, y) giving [r, g, b, a]. */
function encodePNG(side, pixel) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(side * (side * 4 + 1));
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) raw.set(pixel(x, y), y * (side * 4 + 1) + 1 + x * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const inCentre = (x, y) => x >= 96 && x < 160 && y >= 96 && y < 160;
const picture = encodePNG(256, (x, y) => [x, 120, 255 - y, 255]);
// OpenAI's mask: fully transparent where the image should change.
const mask = encodePNG(256, (x, y) => [0, 0, 0, inCentre(x, y) ? 0 : 255]);

test("images.edit with a mask inpaints and answers b64_json", async () => {
  const res = await client.images.edit({
    model: "gpt-image-1",
    image: await toFile(picture, "picture.png", { type: "image/png" }),
    mask: await toFile(mask, "mask.png", { type: "image/png" }),
    prompt: "a pond in the middle",
    n: 1,
    size: "1024x1024",
    quality: "high",
    input_fidelity: "high",
    user: "user-1234",
  });
  assert.equal(res.data.length, 1);
  assertPNG(Buffer.from(res.data[0].b64_json, "base64"), 256);
});

test("images.edit of a transparent image (image[]) inpaints; without, image-to-image with a URL", async () => {
  const holed = encodePNG(256, (x, y) => [x, 120, 255 - y, inCentre(x, y) ? 0 : 255]);
  const res = await client.images.edit({
    model: "dall-e-2",
    image: [await toFile(holed, "holed.png", { type: "image/png" })],
    prompt: "fill the hole",
    response_format: "b64_json",
  });
  assertPNG(Buffer.from(res.data[0].b64_json, "base64"), 256);

  const night = await client.images.edit({
    model: "dall-e-2",
    image: await toFile(picture, "picture.png", { type: "image/png" }),
    prompt: "the same at night",
    n: 2,
  });
  assert.equal(night.data.length, 2);
  for (const d of night.data) {
    const img = await fetch(d.url);
    assert.equal(img.status, 200);
    // image-to-image makes about a megapixel at the input's shape, as SD3.5 does.
    assertPNG(Buffer.from(await img.arrayBuffer()), 1024);
  }
});

test("images.edit refusals carry their param", async () => {
  await assert.rejects(
    client.images.edit({ image: await toFile(Buffer.from("not an image"), "x.png", { type: "image/png" }), prompt: "p" }),
    (err) => {
      assert.equal(err.status, 415);
      assert.equal(err.param, "image");
      return true;
    },
  );
  const small = encodePNG(256, () => [0, 0, 0, 255]);
  await assert.rejects(
    client.images.edit({
      image: await toFile(picture, "picture.png", { type: "image/png" }),
      mask: await toFile(small.subarray(0, 40), "mask.png", { type: "image/png" }),
      prompt: "p",
    }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err}`);
      assert.equal(err.param, "mask");
      return true;
    },
  );
});
