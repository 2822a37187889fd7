// Drives the gallery in Debian's headless Chromium through playwright-core (no browser download).
// Called by tests/e2e/test_gallery.py with one JSON argument:
//   {gallery, anvil, account, prompt, out, chromium, tokens: [{id, generations}], pools,
//    forged: {id, generation}, probe: {id, generation, x, y}}                       (the tour), or
//   {mode: "sealed-observe", gallery, anvil, account, out, chromium, sealed: {id, layer_prompt},
//    observed: {id}, not_held: {id}}                       (a sealed layer and the observer protocol)
// Prints one JSON summary line on stdout (the test asserts on it); exits non-zero on a failed step.
// When it needs the test to act on the chain (a time jump and a reveal, a render), it prints
// {"ask": NAME} on a line of its own and waits for the test's answer line on stdin.
"use strict";

const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { chromium } = require("playwright-core");

const options = JSON.parse(process.argv[2]);
const summary = { steps: [], console_errors: [], page_errors: [] };
const NO_WALLET = "No browser wallet found: install one (e.g. a wallet extension) to mint from this page; "
  + "or use `chaos mint`.";

let answers = null;
// The test answers "ok" and, after a space, a JSON value (what the driver needs next), returned here.
async function ask(name) {
  if (!answers) answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log(JSON.stringify({ ask: name }));
  const { value, done } = await answers.next();
  if (done || !value.startsWith("ok")) throw new Error(`the test did not answer ${name}: ${done ? "stdin closed" : value}`);
  return value.length > 2 ? JSON.parse(value.slice(3)) : null;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function watch(page) {
  page.on("console", (msg) => { if (msg.type() === "error") summary.console_errors.push(msg.text()); });
  page.on("pageerror", (error) => summary.page_errors.push(String(error)));
}

async function ready(page, hash) {
  await page.waitForFunction((h) => document.body.dataset.ready === h, hash, { timeout: 30000 });
}

async function imagesLoaded(page, selector) {
  await page.waitForFunction((s) => {
    const images = [...document.querySelectorAll(s)];
    return images.length > 0 && images.every((img) => img.complete);
  }, selector, { timeout: 30000 });
  return page.$$eval(selector, (images) => images.map((img) => ({ cid: img.dataset.cid, width: img.naturalWidth })));
}

async function shot(page, name) {
  const file = path.join(options.out, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// A browser context with an injected EIP-1193 wallet. The provider lives in the page; its requests go out
// through a binding, from Node, to Anvil (which signs for its unlocked dev accounts, typed data included):
// like a wallet extension, which talks to its node from its own context, not the page's.
async function withWallet(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  let rpcId = 0;
  const requests = [];
  await context.exposeBinding("__anvilRequest", async (_source, method, params) => {
    requests.push(method);
    if (method === "eth_requestAccounts" || method === "eth_accounts") return { result: [options.account] };
    const response = await fetch(options.anvil, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params: params || [] }),
    });
    return response.json();
  });
  await context.addInitScript(() => {
    window.ethereum = {
      isTestWallet: true,
      async request({ method, params }) {
        const answer = await window.__anvilRequest(method, params);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  });
  return { context, requests };
}

async function launch() {
  fs.mkdirSync(options.out, { recursive: true });
  return chromium.launch({
    executablePath: options.chromium,
    headless: true,
    // playwright gives every launch a new, empty profile directory of its own.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// A sealed layer before and after its reveal, and the observer protocol through the injected wallet.
async function sealedAndObserve() {
  const browser = await launch();
  summary.screenshots = [];
  try {
    const plain = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await plain.newPage();
    watch(page);
    const sealedHash = `#/token/${options.sealed.id}`;
    const sealState = () => page.evaluate(() => {
      const seal = document.getElementById("seal");
      return {
        state: seal?.dataset.state ?? null,
        unlock_at: seal?.dataset.unlockAt ? Number(seal.dataset.unlockAt) : null,
        status: document.getElementById("seal-status")?.textContent ?? null,
        revealed: [...document.querySelectorAll(".seal-revealed")].map((p) => p.textContent),
        kind: document.getElementById("gen-kind").textContent,
        layer: document.getElementById("gen-layer")?.textContent ?? null,
        generation: document.getElementById("gen-number").textContent,
      };
    });
    await page.goto(`${options.gallery}/${sealedHash}`);
    await ready(page, sealedHash);
    const before = await sealState();
    check(before.state === "sealed", "the sealed layer shows as sealed");
    summary.screenshots.push(await shot(page, "sealed.png"));
    summary.steps.push("sealed");

    // The test jumps the chain's clock past the unlock time, reveals, renders, and names a pixel of the disc.
    const inside = await ask("reveal");
    await page.reload();
    await ready(page, sealedHash);
    const after = await sealState();
    check(after.state === "revealed", "after its reveal the layer shows as revealed");
    // The probe on a pixel the revealed layer covers: blended over it, its birth unchanged.
    await imagesLoaded(page, "#gen-image");
    const box = await page.$eval("#gen-image", (img) => {
      const r = img.getBoundingClientRect();
      return { w: r.width, h: r.height, nw: img.naturalWidth, nh: img.naturalHeight };
    });
    await page.click("#gen-image", { position: { x: (inside.x + 0.5) * box.w / box.nw, y: (inside.y + 0.5) * box.h / box.nh } });
    await page.waitForFunction(() => document.getElementById("probe-panel").dataset.state === "ready", null, { timeout: 30000 });
    after.probe = await page.evaluate(() => ({
      x: Number(document.getElementById("probe-panel").dataset.x),
      y: Number(document.getElementById("probe-panel").dataset.y),
      born: Number(document.getElementById("probe-panel").dataset.born),
      blended: [...document.querySelectorAll("#probe-blended li")].map((li) => [Number(li.dataset.generation),
        Number(li.dataset.alpha), li.textContent]),
    }));
    summary.sealed = { before, after };
    summary.screenshots.push(await shot(page, "revealed.png"));
    summary.steps.push("revealed");
    await plain.close();

    const { context, requests } = await withWallet(browser);
    const walletPage = await context.newPage();
    watch(walletPage);
    // A token the wallet does not hold: the page refuses before anything is signed.
    await walletPage.goto(`${options.gallery}/#/token/${options.not_held.id}`);
    await ready(walletPage, `#/token/${options.not_held.id}`);
    await walletPage.click("#observe-button");
    await walletPage.waitForSelector("#observe-error", { timeout: 30000 });
    summary.not_held = { error: await walletPage.textContent("#observe-error"), requests: [...requests] };

    const observedHash = `#/token/${options.observed.id}`;
    await walletPage.goto(`${options.gallery}/${observedHash}`);
    await ready(walletPage, observedHash);
    await walletPage.click("#observe-button");
    await walletPage.waitForSelector("#observe-line[data-generation]", { timeout: 60000 });
    summary.observe = {
      signature: await walletPage.textContent("#observe-signature"),
      tx_hash: await walletPage.textContent("#observe-tx"),
      line: await walletPage.textContent("#observe-line"),
      generation: Number(await walletPage.getAttribute("#observe-line", "data-generation")),
    };
    summary.screenshots.push(await shot(walletPage, "observe.png"));
    await ask("observed");  // the test lets the daemon render the observation generation
    await walletPage.reload();
    await ready(walletPage, observedHash);
    summary.observed = await walletPage.evaluate(() => ({
      generation: document.getElementById("gen-number").textContent,
      kind: document.getElementById("gen-kind").textContent,
      observer: document.getElementById("gen-observer")?.textContent ?? null,
      badge: document.getElementById("trust-badge").dataset.status,
    }));
    summary.observe.requests = requests;
    summary.screenshots.push(await shot(walletPage, "observed.png"));
    summary.steps.push("observe");
    await context.close();
  } finally {
    await browser.close();
  }
}

async function main() {
  if (options.mode === "sealed-observe") return sealedAndObserve();
  const browser = await launch();
  try {
    // ---------------------------------------------------------------- no wallet
    const plain = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await plain.newPage();
    watch(page);

    await page.goto(`${options.gallery}/#/`);
    await ready(page, "#/");
    const cards = await page.$$eval(".card", (els) => els.map((el) => Number(el.dataset.token)));
    const images = await imagesLoaded(page, ".card img");
    for (const token of options.tokens) check(cards.includes(token.id), `token ${token.id} is in the grid`);
    check(images.length >= options.tokens.length && images.every((i) => i.width > 0), "every grid image loaded");
    summary.grid = { tokens: cards, images };
    summary.screenshots = [await shot(page, "grid.png")];
    summary.steps.push("grid");

    const token = options.tokens.find((t) => t.generations > 1);
    await page.click(`.card[data-token="${token.id}"]`);
    await ready(page, `#/token/${token.id}`);
    await imagesLoaded(page, "#gen-image");
    const state = () => page.evaluate(() => ({
      generation: document.getElementById("gen-number").textContent,
      src: document.getElementById("gen-image").getAttribute("src"),
      cid: document.getElementById("image-cid").textContent,
      changed: document.getElementById("changed-pixels").textContent,
      width: document.getElementById("gen-image").naturalWidth,
      scrubber_max: Number(document.getElementById("scrubber").max),
      age_panel_visible: document.getElementById("age-panel").checkVisibility(),
      palette: [...document.querySelectorAll("#palette .swatch")].map((s) => s.title),
      pools_message: document.getElementById("pools-message")?.textContent ?? null,
      pools_series: document.querySelectorAll("#pools-chart .series").length,
    }));
    const latest = await state();
    check(latest.scrubber_max === token.generations - 1, "the scrubber spans every generation");
    await page.fill("#scrubber", "0");
    await page.waitForFunction((src) => document.getElementById("gen-image").getAttribute("src") !== src, latest.src);
    await imagesLoaded(page, "#gen-image");
    const first = await state();
    await page.fill("#scrubber", String(token.generations - 1));
    await page.waitForFunction((src) => document.getElementById("gen-image").getAttribute("src") === src, latest.src);
    await imagesLoaded(page, "#gen-image");
    const back = await state();
    check(first.src !== latest.src && first.cid !== latest.cid, "generation 0 shows another image and CID");
    check(back.src === latest.src && back.cid === latest.cid, "back at the latest generation");
    check(first.width > 0 && back.width > 0, "generation images loaded");
    summary.token = { id: token.id, latest, first, back };
    await page.hover("#scrubber");
    summary.screenshots.push(await shot(page, "token.png"));
    summary.steps.push("token");

    // The age panel: every generation has an age layer (pinned beside its image), which the gallery
    // draws as a greyscale PNG; scrubbing to another generation shows that generation's map.
    await imagesLoaded(page, "#age-image");
    const ageState = () => page.evaluate(() => ({
      visible: document.getElementById("age-panel").checkVisibility(),
      width: document.getElementById("age-image").naturalWidth,
      src: document.getElementById("age-image").getAttribute("src"),
    }));
    const latestAge = await ageState();
    await page.fill("#scrubber", "0");
    await imagesLoaded(page, "#age-image");
    const firstAge = await ageState();
    check(latestAge.visible && latestAge.width > 0, "the age panel shows the latest generation's age map");
    check(firstAge.visible && firstAge.width > 0 && firstAge.src !== latestAge.src,
      "scrubbing shows the first generation's own age map");
    summary.age = { latest: latestAge, first: firstAge };
    summary.steps.push("age");

    // The carbon-14 probe: click one pixel of the shown generation, read the panel; scrubbing to
    // generation 0 asks again about the same pixel there.
    if (options.probe) {
      const target = options.probe;
      await page.fill("#scrubber", String(target.generation));
      await page.waitForFunction((g) => document.getElementById("gen-number").textContent === String(g), target.generation);
      await imagesLoaded(page, "#gen-image");
      const box = await page.$eval("#gen-image", (img) => {
        const r = img.getBoundingClientRect();
        return { w: r.width, h: r.height, nw: img.naturalWidth, nh: img.naturalHeight };
      });
      await page.click("#gen-image", { position: { x: (target.x + 0.5) * box.w / box.nw, y: (target.y + 0.5) * box.h / box.nh } });
      const probeState = async (generation) => {
        await page.waitForFunction((g) => {
          const panel = document.getElementById("probe-panel");
          return panel.dataset.state === "ready" && panel.dataset.generation === String(g);
        }, generation, { timeout: 30000 });
        return page.evaluate(() => {
          const panel = document.getElementById("probe-panel");
          return {
            visible: panel.checkVisibility(),
            marker_visible: document.getElementById("probe-marker").checkVisibility(),
            x: Number(panel.dataset.x), y: Number(panel.dataset.y), generation: Number(panel.dataset.generation),
            born: Number(panel.dataset.born), repaints: Number(panel.dataset.repaints), age: Number(panel.dataset.age),
            summary: document.getElementById("probe-summary").textContent,
            events: [...document.querySelectorAll("#probe-events li")].map((li) => [Number(li.dataset.generation), li.dataset.kind]),
          };
        });
      };
      const at = await probeState(target.generation);
      summary.screenshots.push(await shot(page, "probe.png"));
      await page.fill("#scrubber", "0");
      const atMint = await probeState(0);
      check(at.visible && at.marker_visible && at.x === target.x && at.y === target.y, "the probe panel shows the clicked pixel");
      summary.probe = { at, mint: atMint };
      summary.steps.push("probe");
    }

    // Trust badges: one per generation in the strip, and the selected generation's in full.
    const trustState = () => page.evaluate(() => ({
      strip: [...document.querySelectorAll("#trust-strip .trust-dot")].map((d) => [Number(d.dataset.generation), d.dataset.status]),
      badge: document.getElementById("trust-badge").textContent,
      status: document.getElementById("trust-badge").dataset.status,
      failed: [...document.querySelectorAll("#trust-failed li")].map((li) => li.textContent),
      commit: document.getElementById("trust-commit")?.textContent ?? null,
      generation: document.getElementById("gen-number").textContent,
    }));
    const honest = await trustState();
    await page.goto(`${options.gallery}/#/token/${options.forged.id}`);
    await ready(page, `#/token/${options.forged.id}`);
    const forged = await trustState();
    summary.screenshots.push(await shot(page, "trust.png"));
    await page.click('#trust-strip .trust-dot[data-generation="0"]');
    await page.waitForFunction(() => document.getElementById("gen-number").textContent === "0");
    const forgedFirst = await trustState();
    check(forged.status === "forged" && forgedFirst.status === "verified", "the forged token's badges");
    summary.trust = { honest, forged, forged_first: forgedFirst };
    summary.steps.push("trust");

    await page.goto(`${options.gallery}/#/mint`);
    await ready(page, "#/mint");
    summary.no_wallet = {
      message: await page.textContent("#wallet-status"),
      button_disabled: await page.isDisabled("#mint-button"),
    };
    check(summary.no_wallet.message === NO_WALLET, "the no-wallet sentence");
    check(summary.no_wallet.button_disabled, "no wallet: the button is disabled");
    summary.steps.push("no-wallet");
    await plain.close();

    // ---------------------------------------------------------------- an EIP-1193 wallet
    const { context: walletContext, requests } = await withWallet(browser);
    const walletPage = await walletContext.newPage();
    watch(walletPage);
    await walletPage.goto(`${options.gallery}/#/mint`);
    await ready(walletPage, "#/mint");
    check(!(await walletPage.isDisabled("#mint-button")), "with a wallet the button is enabled");

    // 141 characters, 282 bytes of UTF-8: too long, though short in characters.
    await walletPage.fill("#prompt", "é".repeat(141));
    summary.too_long = {
      message: await walletPage.textContent("#prompt-error"),
      visible: await walletPage.isVisible("#prompt-error"),
      button_disabled: await walletPage.isDisabled("#mint-button"),
    };
    check(summary.too_long.visible && summary.too_long.button_disabled, "a prompt over the byte limit is refused");

    await walletPage.fill("#prompt", options.prompt);
    check(!(await walletPage.isVisible("#prompt-error")), "the message goes once the prompt fits");
    await walletPage.click("#mint-button");
    await walletPage.waitForSelector("#tx-hash", { timeout: 30000 });
    await walletPage.waitForSelector("#minted-link", { timeout: 60000 });
    summary.mint = {
      tx_hash: await walletPage.textContent("#tx-hash"),
      status: await walletPage.textContent("#mint-status"),
      link: await walletPage.getAttribute("#minted-link", "href"),
      requests,
    };
    summary.screenshots.push(await shot(walletPage, "mint.png"));
    summary.steps.push("mint");

    // The new token, before the renderer has drawn it: a placeholder, in its page and in the grid.
    await walletPage.click("#minted-link");
    await ready(walletPage, summary.mint.link);
    summary.unrendered = { notice: await walletPage.textContent("#unrendered") };
    await walletPage.goto(`${options.gallery}/#/`);
    await ready(walletPage, "#/");
    const id = summary.mint.link.split("/").pop();
    summary.unrendered.card = await walletPage.textContent(`.card[data-token="${id}"] .placeholder`);
    summary.steps.push("unrendered");
    await walletContext.close();
  } finally {
    await browser.close();
  }
}

main().then(
  // Exit explicitly: a stdin reader (ask) would otherwise keep Node alive after the last step.
  () => { process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(0)); },
  (error) => {
    summary.error = String(error && error.stack || error);
    console.log(JSON.stringify(summary));
    process.exit(1);
  },
);
