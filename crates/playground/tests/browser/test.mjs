// Drives the playground page in Debian's headless Chromium (run.sh starts the server and gives
// BASE_URL and SCREENSHOT). Each check prints a line; the last line counts them.
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const screenshot = process.env.SCREENSHOT;
const userDataDir = process.env.USER_DATA_DIR;
if (!base || !screenshot || !userDataDir) throw new Error("BASE_URL, SCREENSHOT and USER_DATA_DIR are required");

let passed = 0;
let failed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}: ${error.stack || error}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1200, height: 820 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = context.pages()[0] || (await context.newPage());
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(String(error)));
const requests = [];
page.on("request", (request) => {
  if (request.url().endsWith("/v1/chat/completions")) requests.push(JSON.parse(request.postData()));
});

const lastReply = () => page.locator("#messages li.assistant").last();

// Sends `prompt` and waits until the page is idle again; returns the reply's text, its finish
// note and how many times its text grew while streaming.
async function send(prompt, { stopAfterFirstToken = false } = {}) {
  const before = await page.locator("#messages li.assistant").count();
  // record every text update of assistant replies (set up before sending, so none is missed)
  await page.evaluate(() => {
    window.__updates = 0;
    if (window.__observer) window.__observer.disconnect();
    window.__observer = new MutationObserver((records) => {
      for (const record of records) {
        const node = record.target.nodeType === Node.TEXT_NODE ? record.target.parentElement : record.target;
        if (node && node.closest("li.assistant .text") && node.textContent.length > 0) window.__updates += 1;
      }
    });
    window.__observer.observe(document.getElementById("messages"), { childList: true, characterData: true, subtree: true });
  });
  await page.fill("#prompt", prompt);
  await page.click("#send");
  await page.waitForFunction((n) => document.querySelectorAll("#messages li.assistant").length > n, before);
  let clickedStop = false;
  if (stopAfterFirstToken) {
    await page.waitForFunction(
      () => window.__updates >= 1 || !document.getElementById("send").disabled, null, { timeout: 60_000 });
    // click in the page itself, so "still generating" and the click are one step
    clickedStop = await page.evaluate(() => {
      const button = document.getElementById("stop-button");
      if (button.disabled) return false;
      button.click();
      return true;
    });
  }
  await page.waitForFunction(() => !document.getElementById("send").disabled, null, { timeout: 120_000 });
  return {
    text: await lastReply().locator(".text").textContent(),
    meta: await lastReply().locator(".meta").textContent(),
    updates: await page.evaluate(() => window.__updates),
    clickedStop,
  };
}

async function setRange(id, value) {
  await page.locator(id).fill(String(value));
}

let greedy = "";
await check("the page loads and lists the shipped GPT", async () => {
  await page.goto(base + "/");
  await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0);
  const models = await page.locator("#model option").allTextContents();
  assert(models.includes("gpt"), `models: ${models}`);
  assert((await page.locator("#status").textContent()) === "ready", "status is ready");
});

await check("a greedy reply streams token by token", async () => {
  await setRange("#temperature", 0);
  await setRange("#max-tokens", 40);
  const reply = await send("영화가");
  greedy = reply.text;
  assert(greedy.length > 0, "a reply arrived");
  assert(reply.updates >= 2, `the text grew ${reply.updates} times: tokens should arrive as they stream`);
  assert(/finish: (stop|length)/.test(reply.meta), `finish note: ${reply.meta}`);
  const count = await page.locator("#token-count").textContent();
  assert(/^[1-9]\d* tokens$/.test(count), `token count: ${count}`);
  const body = requests.at(-1);
  assert(body.temperature === 0 && body.max_tokens === 40 && body.stream === true, JSON.stringify(body));
});

await check("a stop sequence cuts the reply where it appears", async () => {
  const chars = [...greedy];
  const stop = chars.slice(Math.floor(chars.length / 2)).find((c) => c.trim() !== "");
  assert(stop, `a character to stop at in ${JSON.stringify(greedy)}`);
  await page.click("#clear");
  await page.fill("#stop", stop);
  const reply = await send("영화가");
  assert(JSON.stringify(requests.at(-1).stop) === JSON.stringify([stop]), "the stop sequence is sent");
  const expected = greedy.slice(0, greedy.indexOf(stop));
  assert(reply.text === expected, `${JSON.stringify(reply.text)} should be ${JSON.stringify(expected)}`);
  assert(reply.meta.includes("finish: stop"), reply.meta);
  await page.fill("#stop", "");
});

await check("a changed temperature reaches the server and samples", async () => {
  await page.click("#clear");
  await setRange("#temperature", 1.3);
  await page.fill("#seed", "5");
  const first = await send("영화가");
  assert(requests.at(-1).temperature === 1.3 && requests.at(-1).seed === 5, JSON.stringify(requests.at(-1)));
  await page.click("#clear");
  const again = await send("영화가");
  assert(first.text === again.text, "the same seed gives the same sample");
  assert(await page.locator("#temperature-value").textContent() === "1.30", "the slider shows its value");
});

await check("the stop button ends a long generation", async () => {
  await page.click("#clear");
  // at temperature 2 the end-of-text token is rare: the reply would run for all 256 tokens
  await setRange("#temperature", 2);
  await setRange("#max-tokens", 256);
  await page.fill("#seed", "");
  await page.fill("#stop", "");
  // the model may still end its text before the click lands: then try again
  let reply;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    reply = await send("영화가", { stopAfterFirstToken: true });
    if (reply.clickedStop) break;
  }
  assert(reply.clickedStop, "five generations all ended before the stop button could be pressed");
  assert(reply.meta.includes("finish: stopped"), reply.meta);
  assert(reply.text.length > 0, "the tokens that arrived before the stop stay");
  assert((await page.locator("#status").textContent()) === "stopped", "status says stopped");
  assert(await page.locator("#stop-button").isDisabled(), "stop is disabled again");
});

await check("model output and user text are shown as text, not HTML", async () => {
  await page.click("#clear");
  await setRange("#max-tokens", 5);
  await send("<img src=x id=injected><b>굵게</b>");
  assert((await page.locator("#messages img, #messages b").count()) === 0, "no element was created from text");
  assert((await page.locator("#messages li.user .text").textContent()).includes("<img"), "the text is shown as typed");
});

await check("show probabilities lists each token's alternatives", async () => {
  await page.click("#clear");
  await page.fill("#system", "짧은 영화 리뷰를 이어 쓰세요.");
  await setRange("#temperature", 0.8);
  await setRange("#max-tokens", 24);
  await page.fill("#seed", "12");
  await page.check("#show-probabilities");
  await send("이 영화는 배우들의 연기가");
  assert(await page.locator("#probabilities").isVisible(), "the panel opens");
  const tokens = await page.locator("#prob-tokens span").count();
  assert(tokens > 0, "tokens are listed");
  await page.locator("#prob-tokens span").nth(Math.min(2, tokens - 1)).click();
  const rows = await page.locator("#prob-table tbody tr").count();
  assert(rows === 5 || rows === 6, `5 alternatives (and the chosen token), got ${rows}`);
  assert(requests.at(-1).messages[0].role === "system", "the system message is sent first");
  await page.screenshot({ path: screenshot, fullPage: true });
});

await check("no script errors", async () => {
  assert(pageErrors.length === 0, pageErrors.join("\n"));
});

await context.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
