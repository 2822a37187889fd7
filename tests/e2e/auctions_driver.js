// Drives the gallery's Last Frames page (#/auctions) in Debian's headless Chromium through
// playwright-core. Called by tests/e2e/test_phoenix_economy.py with one JSON argument:
//   {gallery, chromium, out, token, generation}
// Prints one JSON summary line on stdout; exits non-zero on a failed step.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const options = JSON.parse(process.argv[2]);

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function main() {
  fs.mkdirSync(options.out, { recursive: true });
  const browser = await chromium.launch({
    executablePath: options.chromium,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (msg) => { if (msg.type() === "error") errors.push(msg.text()); });
    await page.goto(`${options.gallery}/#/auctions`);
    await page.waitForFunction(() => document.body.dataset.ready === "#/auctions", null, { timeout: 30000 });
    await page.waitForFunction(() => {
      const images = [...document.querySelectorAll("#sold-frames img")];
      return images.length > 0 && images.every((img) => img.complete);
    }, null, { timeout: 30000 });
    const sold = await page.$$eval("#sold-frames .card", (cards) => cards.map((card) => ({
      text: card.textContent, width: card.querySelector("img").naturalWidth })));
    check(sold.length === 1, "one sold Last Frame");
    check(sold[0].width > 0, "its image loaded");
    check(sold[0].text.includes(`#${options.token} · gen ${options.generation}`), "it names the token and generation");
    const screenshot = path.join(options.out, "last-frames.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    check(errors.length === 0, `no page errors: ${errors.join("; ")}`);
    console.log(JSON.stringify({ sold, screenshot }));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
