// Chaos Canvas gallery: vanilla JS, no build step. Reads this server's JSON API;
// mints through the browser's wallet (EIP-1193) when there is one.
"use strict";

const NO_WALLET = "No browser wallet found: install one (e.g. a wallet extension) to mint from this page; "
  + "or use `chaos mint`.";

let config = null;

// ------------------------------------------------------------------ helpers

// Build elements with text content only: prompts are whatever minters typed, never HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${path}: HTTP ${response.status}`);
  return body;
}

function short(address) {
  return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "—";
}

function formatEth(wei) {
  const value = BigInt(wei);
  const whole = value / 10n ** 18n;
  const fraction = (value % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

function formatChanged(row) {
  const f = row.changed_pixel_fraction;
  if (f === null || f === undefined) return "—";
  if (row.generation === 0) return "100 % (the first image)";
  return `${(f * 100).toFixed(4)} %`;
}

function utf8Bytes(text) {
  return new TextEncoder().encode(text);
}

// ABI encoding of mint(string): selector, offset 0x20, length, UTF-8 bytes right-padded to 32.
function word(n) {
  return BigInt(n).toString(16).padStart(64, "0");
}

function encodeMint(selector, prompt) {
  const bytes = utf8Bytes(prompt);
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  const padded = hex.padEnd(Math.ceil(bytes.length / 32) * 64, "0");
  return selector + word(32) + word(bytes.length) + padded;
}

// ABI encoding of a call whose inputs are unsigned integers and `bytes` (observe's), given by name as the
// canvas's ABI lists them (config.observe_inputs): heads in order, each `bytes` as an offset to its tail.
function encodeCall(selector, inputs, values) {
  let head = "", tail = "";
  for (const input of inputs) {
    const value = values[input.name];
    if (value === undefined) throw new Error(`this page cannot fill observe()'s input ${input.name}`);
    if (input.type === "bytes") {
      const hex = String(value).replace(/^0x/, "");
      head += word(inputs.length * 32 + tail.length / 2);
      tail += word(hex.length / 2) + hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
    } else if (/^uint\d*$/.test(input.type)) {
      head += word(value);
    } else {
      throw new Error(`this page cannot encode observe()'s ${input.type} input ${input.name}`);
    }
  }
  return selector + head + tail;
}

// A chain timestamp (seconds) as a UTC date and time.
function formatTime(seconds) {
  return new Date(Number(seconds) * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function setView(...children) {
  const view = document.getElementById("view");
  view.replaceChildren(...children);
  window.scrollTo(0, 0);
}

function showError(error) {
  setView(h("section", { class: "notice error" }, h("h1", {}, "Something went wrong"), h("p", {}, error.message)));
}

// ------------------------------------------------------------------ grid

async function showGrid(page = 0) {
  const data = await api(`/api/tokens?page=${page}`);
  const cards = data.tokens.map((t) => {
    const frame = t.image_cid
      ? h("img", { src: `/ipfs/${t.image_cid}`, alt: `Chaos Canvas #${t.token_id}`, loading: "lazy",
        "data-cid": t.image_cid })
      : h("div", { class: "placeholder" }, "awaiting its first render");
    const pending = t.generation !== null && t.committed_generation !== null && t.generation > t.committed_generation;
    return h("a", { class: "card", href: `#/token/${t.token_id}`, "data-token": t.token_id },
      h("div", { class: "frame" }, frame),
      h("div", { class: "caption" },
        h("div", { class: "row" },
          h("span", { class: "id" }, `#${t.token_id}`),
          h("span", { class: "badge" }, t.burnt ? "burnt"
            : `gen ${t.committed_generation ?? "–"}${pending ? ` → ${t.generation}` : ""}`)),
        h("p", { class: "prompt" }, t.prompt || ""),
        h("span", { class: "owner mono", title: t.owner || "" }, t.burnt ? "burnt" : short(t.owner))));
  });
  const nav = h("div", { class: "pager" },
    page > 0 ? h("a", { class: "button ghost", href: page === 1 ? "#/" : `#/page/${page - 1}` }, "← newer") : null,
    data.more ? h("a", { class: "button ghost", href: `#/page/${page + 1}` }, "older →") : null);
  setView(
    h("section", { class: "intro" },
      h("h1", {}, "The canvas"),
      h("p", { class: "muted" }, `${data.total} artwork${data.total === 1 ? "" : "s"}. Every transfer redraws 1 % `
        + "of an artwork's pixels; every generation stays on IPFS.")),
    data.tokens.length ? h("div", { class: "grid", id: "grid" }, cards)
      : h("p", { class: "notice" }, "Nothing minted yet. ", h("a", { href: "#/mint" }, "Mint the first artwork.")),
    nav);
}

// ------------------------------------------------------------------ token

function detail(label, value, attrs = {}) {
  return [h("dt", {}, label), h("dd", attrs, value)];
}

// A generation's trust badge: the verdict of `chaos verify` (renderer.verify), computed by the server.
const TRUST_LABELS = {
  "verified": "Verified",
  "not-checkable": "Not checkable",
  "forged": "Forged",
  "unverifiable": "Unverifiable",
};
const TRUST_TITLES = {
  "verified": "Every check passed: CIDs, chain events, parent link, mask, age layer, colours and a re-render of the pixels.",
  "not-checkable": "Every check that can run passed, but this backend is not deterministic: the pixels cannot be re-derived.",
  "forged": "A check failed: this generation is not what the chain's events and its parent give.",
  "unverifiable": "IPFS cannot serve what the commit names, or no parent link reaches this generation.",
};

function trustBadge(trust, attrs = {}) {
  const status = trust ? trust.status : "unverifiable";
  return h("span", { ...attrs, class: `badge trust-${status}`, "data-status": status,
    title: (trust && trust.note) || TRUST_TITLES[status] || "" }, TRUST_LABELS[status] || status);
}

async function showToken(id) {
  const [token, pools] = await Promise.all([api(`/api/tokens/${id}`), api("/api/pools").catch((e) => ({ error: e }))]);
  const rows = token.generations;
  const image = h("img", { id: "gen-image", alt: "" });
  const ageImage = h("img", { id: "age-image", alt: "pixel age map" });
  const agePanel = h("figure", { id: "age-panel", class: "frame small", hidden: true },
    ageImage, h("figcaption", { class: "muted" }, "Pixel age: black was repainted by this generation; white is as old as the token"));
  ageImage.addEventListener("error", () => { agePanel.hidden = true; });
  const label = h("output", { id: "gen-number", for: "scrubber" });
  const of = h("span", { class: "of muted" });
  const scrubber = h("input", { type: "range", id: "scrubber", min: 0, max: Math.max(rows.length - 1, 0), step: 1,
    value: Math.max(rows.length - 1, 0), "aria-label": "generation", disabled: rows.length < 2 });
  const dl = h("dl", { id: "gen-details" });
  const palette = h("div", { id: "palette", class: "palette" });
  const trust = h("div", { id: "trust" });
  // One small badge per generation, in order: the whole history's trust at a glance; a click selects it.
  const strip = h("ol", { id: "trust-strip", class: "trust-strip", "aria-label": "trust of each generation" },
    rows.map((row, index) => h("li", {}, h("button", { type: "button", class: "trust-dot",
      "data-generation": row.generation, "data-status": row.trust ? row.trust.status : "unverifiable",
      title: `generation ${row.generation}: ${TRUST_LABELS[row.trust && row.trust.status] || "unverifiable"}`,
      onclick: () => { scrubber.value = String(index); select(index); } }, String(row.generation)))));

  function select(index) {
    const row = rows[index];
    if (!row) return;
    image.src = row.image_cid ? `/ipfs/${row.image_cid}` : "";
    image.alt = `generation ${row.generation} of Chaos Canvas #${token.token_id}`;
    image.dataset.cid = row.image_cid || "";
    label.textContent = String(row.generation);
    of.textContent = ` of 0–${rows[rows.length - 1].generation}${index === rows.length - 1 ? " (latest)" : ""}`;
    if (row.age) {
      agePanel.hidden = false;
      ageImage.src = `/age/${row.age.cid}.png`;  // the gallery draws the binary age layer as a PNG
    } else {
      agePanel.hidden = true;
      ageImage.removeAttribute("src");
    }
    dl.replaceChildren(
      ...detail("Generation", String(row.generation)),
      ...detail("Kind", row.kind || "?", { id: "gen-kind" }),
      ...detail("Owner", row.owner || "—", { class: "mono", id: "gen-owner" }),
      ...detail("Block", row.block ?? "—"),
      ...(row.observer ? detail("Observed by", row.observer, { class: "mono", id: "gen-observer" }) : []),
      ...(row.layer_prompt ? detail("Revealed layer", `“${row.layer_prompt}”`, { id: "gen-layer" }) : []),
      ...detail("Changed pixels", formatChanged(row), { id: "changed-pixels" }),
      ...detail("Image CID", row.image_cid || "—", { class: "mono cid", id: "image-cid" }),
      ...detail("Metadata CID", row.committed ? row.metadata_cid
        : `${row.metadata_cid} (reached through a later commit's parent link)`, { class: "mono cid" }));
    const failed = (row.trust && row.trust.failed) || [];
    trust.replaceChildren(...[  // replaceChildren would write a null as the text "null"
      trustBadge(row.trust, { id: "trust-badge" }),
      failed.length ? h("ul", { id: "trust-failed", class: "trust-failed" },
        failed.map((f) => h("li", {}, h("span", { class: "mono" }, f.check), ": ", f.detail))) : null,
      row.trust && row.trust.commit_tx
        ? h("p", { class: "muted small" }, "commit ", h("span", { class: "mono", id: "trust-commit" }, row.trust.commit_tx))
        : null].filter(Boolean));
    for (const dot of strip.querySelectorAll(".trust-dot")) {
      dot.classList.toggle("selected", dot.dataset.generation === String(row.generation));
    }
    palette.replaceChildren(...(row.palette || []).map((colour) =>
      h("span", { class: "swatch", title: colour },
        h("span", { class: "chip", "data-colour": colour }), h("span", { class: "mono" }, colour))));
    // The colour is data, not style text: set it through the CSSOM (allowed by the page's CSP).
    for (const chip of palette.querySelectorAll(".chip")) chip.style.background = chip.dataset.colour;
    probePixel();  // a probed pixel is asked about again in the newly shown generation
  }
  scrubber.addEventListener("input", () => select(Number(scrubber.value)));

  // The carbon-14 probe: a click on a pixel of the shown generation asks when it was born, how often it
  // was repainted and by what; scrubbing keeps the pixel and asks again for the new generation.
  const marker = h("div", { id: "probe-marker", class: "probe-marker", hidden: true });
  const probe = h("section", { id: "probe-panel", class: "probe", hidden: true });
  let probed = null;
  let probeSerial = 0;
  image.addEventListener("click", (event) => {
    const width = image.naturalWidth, height = image.naturalHeight;
    if (!width || !height) return;
    const rect = image.getBoundingClientRect();
    const clamp = (v, n) => Math.min(n - 1, Math.max(0, Math.floor(v * n)));
    probed = { x: clamp((event.clientX - rect.left) / rect.width, width),
      y: clamp((event.clientY - rect.top) / rect.height, height), width, height };
    probePixel();
  });
  async function probePixel() {
    if (!probed) return;
    const row = rows[Number(scrubber.value)];
    const { x, y, width, height } = probed;
    marker.hidden = false;
    marker.style.left = `${(x / width) * 100}%`;
    marker.style.top = `${(y / height) * 100}%`;
    marker.style.width = marker.style.height = `max(6px, ${100 / width}%)`;
    probe.hidden = false;
    probe.dataset.state = "loading";
    const serial = ++probeSerial;
    try {
      const answer = await api(`/api/tokens/${token.token_id}/probe?generation=${row.generation}&x=${x}&y=${y}`);
      if (serial === probeSerial) showProbe(probe, answer);
    } catch (error) {
      if (serial !== probeSerial) return;
      probe.replaceChildren(h("h2", {}, "Carbon-14"), h("p", { class: "error", id: "probe-error" }, error.message));
      probe.dataset.state = "error";
    }
  }

  const notes = [];
  if (!rows.length) {
    notes.push(h("p", { class: "notice", id: "unrendered" },
      "Awaiting its first render: the renderer draws it, pins it to IPFS and commits its CID on-chain."));
  } else if (token.pending.length) {
    notes.push(h("p", { class: "notice" },
      `Generation ${token.pending.join(", ")} is on-chain and waiting for the renderer.`));
  }
  for (const p of token.problems) {
    notes.push(h("p", { class: "notice error" }, `generation ${p.generation}: ${p.detail}`));
  }

  setView(
    h("a", { class: "back", href: "#/" }, "← all artworks"),
    h("div", { class: "token" },
      h("div", { class: "stage" },
        h("figure", { class: "frame big probe-frame", title: rows.length ? "click a pixel: how old is it?" : null },
          rows.length ? image : h("div", { class: "placeholder" }, "awaiting its first render"), marker),
        h("div", { class: "scrub", hidden: !rows.length },
          h("label", { for: "scrubber" }, "Generation ", label, of),
          scrubber,
          h("div", { class: "ticks muted" }, h("span", {}, "mint"), h("span", {}, "now")))),
      h("aside", { class: "details" },
        h("h1", {}, token.name || `Chaos Canvas #${token.token_id}`),
        h("p", { class: "prompt big" }, `“${token.prompt}”`),
        h("p", { class: "muted" }, "minted by ", h("span", { class: "mono", title: token.minter }, short(token.minter)),
          token.burnt ? " · burnt"
            : [" · held by ", h("span", { class: "mono", title: token.owner }, short(token.owner))]),
        ...notes,
        sealSection(token.seal),
        observeSection(token),
        trust,
        strip,
        dl,
        probe,
        h("h2", {}, "Palette"),
        palette,
        agePanel)),
    poolsSection(pools));
  select(Number(scrubber.value));
}

function showProbe(panel, answer) {
  const born = answer.born;
  const old = answer.age === 0 ? "painted by this very generation"
    : `${answer.age} generation${answer.age === 1 ? "" : "s"} old`;
  const times = answer.repaints === 0 ? "never repainted"
    : `repainted ${answer.repaints} time${answer.repaints === 1 ? "" : "s"}`;
  panel.replaceChildren(
    h("h2", {}, "Carbon-14"),
    h("p", { id: "probe-summary" },
      h("strong", {}, `Pixel (${answer.x}, ${answer.y})`), ` of generation ${answer.generation}: born at generation `,
      h("strong", { id: "probe-born" }, String(born.generation)),
      ` (${born.kind || "?"}, block ${born.block ?? "—"}), ${old}; `, h("span", { id: "probe-repaints" }, times), "."),
    h("ol", { id: "probe-events", class: "probe-events" }, answer.events.map((paint) =>
      h("li", { "data-generation": paint.generation, "data-kind": paint.kind || "" },
        h("span", { class: "badge" }, `gen ${paint.generation}`), ` ${paint.kind || "?"} · block ${paint.block ?? "—"} · `,
        h("span", { class: "mono", title: paint.tx || "" }, short(paint.tx)),
        h("span", { class: "muted small" }, ` (${paint.source})`)))),
    answer.blended.length ? h("ul", { id: "probe-blended", class: "probe-events" }, answer.blended.map((blend) =>
      h("li", { "data-generation": blend.generation, "data-alpha": blend.alpha },
        `Blended over it at generation ${blend.generation} (${blend.kind}, ${Math.round((blend.alpha / 256) * 100)} % `
        + `of the layer${blend.layer ? ` “${blend.layer}”` : ""}); its birth is unchanged.`))) : null,
    h("p", { class: "muted small" }, `Born and repaints from the ${answer.source}.`),
    ...answer.notes.map((note) => h("p", { class: "notice error small" }, note)));
  Object.assign(panel.dataset, { state: "ready", x: answer.x, y: answer.y, generation: answer.generation,
    born: born.generation, repaints: answer.repaints, age: answer.age });
}

// ------------------------------------------------------------------ sealed layers

// A layer its holder sealed (a hash of a secret prompt and an unlock time): shown as sealed until its
// unlock time, then, once someone holding the secret has revealed it, as the prompt it revealed.
function sealSection(seal) {
  if (!seal) return null;
  const section = h("section", { id: "seal", class: "notice seal", "data-state": seal.sealed ? "sealed" : "revealed" });
  if (seal.sealed) {
    const left = seal.unlock_at - seal.chain_time;
    section.append(h("p", { id: "seal-status" },
      h("strong", {}, "Sealed layer: "), `sealed until ${formatTime(seal.unlock_at)}`,
      seal.unlockable ? ". The unlock time has passed: anyone holding the secret may reveal it now."
        : ` (in ${formatDuration(left)} by the chain's clock).`));
    section.dataset.unlockAt = String(seal.unlock_at);
  }
  for (const reveal of seal.reveals) {
    section.append(h("p", { class: "seal-revealed", "data-generation": reveal.generation },
      h("strong", {}, "Revealed layer: "), `“${reveal.layer_prompt}”`,
      h("span", { class: "muted" }, ` · generation ${reveal.generation}, block ${reveal.block}`)));
  }
  return section;
}

// ------------------------------------------------------------------ observe

const NO_WALLET_OBSERVE = "No browser wallet found: observing needs the holder's wallet to sign; or use `chaos observe`.";

// The holder signs Observe(tokenId, generation) (EIP-712) and the wallet sends observe(tokenId, signature):
// the palette then collapses from the holder's address mixed with chain entropy no one chose in advance.
function observeSection(token) {
  if (!config.observe_selector || token.burnt) return null;
  const wallet = window.ethereum;
  const button = h("button", { id: "observe-button", type: "button", disabled: !wallet }, "Observe");
  const status = h("p", { id: "observe-status", class: wallet ? "muted small" : "notice small" },
    wallet ? "Only the holder can observe: your wallet signs Observe(token, generation), then sends it."
      : NO_WALLET_OBSERVE);
  const result = h("div", { id: "observe-result", class: "result", hidden: true });

  function report(...children) {
    result.hidden = false;
    result.replaceChildren(...children);
  }

  async function observe() {
    button.disabled = true;
    try {
      report(h("p", {}, "Waiting for your wallet…"));
      const [from] = await wallet.request({ method: "eth_requestAccounts" });
      if (!from) throw new Error("the wallet gave no account");
      const chainId = Number(await wallet.request({ method: "eth_chainId" }));
      if (chainId !== config.chain_id) {
        throw new Error(`your wallet is on chain ${chainId}; this canvas is on chain ${config.chain_id}. `
          + "Switch networks in the wallet and try again.");
      }
      const request = await api(`/api/tokens/${token.token_id}/observe`);
      if (from.toLowerCase() !== request.owner.toLowerCase()) {
        throw new Error(`only the holder ${request.owner} can observe token #${token.token_id}; `
          + `your wallet's account is ${from}.`);
      }
      report(h("p", {}, `Sign Observe(token ${token.token_id}, generation ${request.generation}) in your wallet…`));
      const signature = await wallet.request({ method: "eth_signTypedData_v4",
        params: [from, JSON.stringify(request.typed_data)] });
      const tx = await wallet.request({ method: "eth_sendTransaction", params: [{
        from, to: config.canvas, data: encodeCall(config.observe_selector, config.observe_inputs,
          { tokenId: token.token_id, generation: request.generation, signature }),
      }] });
      const line = h("p", { id: "observe-line" }, "Sent; waiting for it to be mined…");
      report(h("p", {}, "Signature ", h("code", { id: "observe-signature", class: "mono" }, signature)),
        h("p", {}, "Transaction ", h("code", { id: "observe-tx", class: "mono" }, tx)), line);
      const receipt = await waitForReceipt(wallet, tx);
      if (!receipt) {
        line.textContent = "Not mined yet: check your wallet's activity.";
      } else if (receipt.status !== "0x1") {
        line.textContent = "The transaction failed on-chain (reverted): the token's generation may have moved on "
          + "since you signed, or it was already drawn in this block. Try again.";
      } else {
        line.replaceChildren(`Observed: generation ${request.generation + 1} is on-chain. The renderer collapses `
          + "its palette from your address next; ",
        h("a", { id: "observe-reload", href: `#/token/${token.token_id}`, onclick: (e) => { e.preventDefault(); route(); } },
          "reload"), " to see it.");
        line.dataset.generation = String(request.generation + 1);
      }
    } catch (error) {
      const message = error && error.code === 4001 ? "You rejected the request in your wallet: nothing was signed or sent."
        : `Could not observe: ${error.message || error}`;
      report(h("p", { class: "error", role: "alert", id: "observe-error" }, message));
    } finally {
      button.disabled = !wallet;
    }
  }
  button.addEventListener("click", observe);
  return h("section", { id: "observe", class: "observe" }, button, status, result);
}

// ------------------------------------------------------------------ pools chart

function poolsSection(pools) {
  const section = h("section", { class: "pools", id: "pools" }, h("h2", {}, "Colour pools"));
  if (pools.error) {
    section.append(h("p", { class: "notice error", id: "pools-message" }, pools.error.message));
    return section;
  }
  if (!pools.pools) {
    const message = `${pools.message[0].toUpperCase()}${pools.message.slice(1)}.`;
    section.append(h("p", { class: "muted", id: "pools-message" }, message));
    return section;
  }
  const unit = priceUnit(pools);
  section.append(h("p", { class: "muted" }, `Price of each hue's pigment (${unit.name} per pigment) after every trade.`));
  section.append(priceChart(pools, unit));
  section.append(h("ul", { class: "legend" }, pools.hues.map((hue) => {
    const chip = h("span", { class: "chip" });
    chip.style.background = hue.colour;
    return h("li", { class: hue.crashed ? "crashed" : "" }, chip,
      `${Math.round(hue.degrees[0])}°–${Math.round(hue.degrees[1])}° `,
      h("span", { class: "mono" }, `${unit.format(Number(hue.price_wei) / unit.wei)} ${unit.name}`),
      hue.crashed ? h("strong", {}, " flash crash") : null);
  })));
  return section;
}

// Prices in the unit that keeps their digits readable: ETH, or gwei for small ones.
function priceUnit(pools) {
  const top = Math.max(...pools.hues.map((x) => Number(x.price_wei)));
  const format = (v) => new Intl.NumberFormat("en", { maximumSignificantDigits: 4 }).format(v);
  return top < 1e15 ? { name: "gwei", wei: 1e9, format } : { name: "ETH", wei: 1e18, format };
}

function priceChart(pools, unit) {
  const W = 1000, H = 260, L = 70, R = 16, T = 14, B = 30;
  const points = pools.history.length ? pools.history
    : [{ block: 0, prices_wei: pools.hues.map((x) => x.price_wei) }];
  const series = pools.hues.map((_, hue) => points.map((p) => Number(p.prices_wei[hue]) / unit.wei));
  const all = series.flat();
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < hi * 1e-6) { lo *= 0.95; hi *= 1.05; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const b0 = points[0].block, b1 = points[points.length - 1].block;
  const x = (i) => (points.length === 1 ? (L + W - R) / 2
    : L + ((points[i].block - b0) / Math.max(b1 - b0, 1)) * (W - L - R));
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "pools-chart", role: "img",
    "aria-label": "colour pool prices over time" });
  for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }));
    chart.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, unit.format(v)));
  }
  chart.append(svg("text", { x: L, y: H - 8, class: "axis" }, `block ${b0}`));
  chart.append(svg("text", { x: W - R, y: H - 8, "text-anchor": "end", class: "axis" }, `block ${b1}`));
  series.forEach((values, hue) => {
    const colour = pools.hues[hue].colour;
    if (values.length > 1) {
      // A step line: a price holds until the next trade.
      let d = `M${x(0)},${y(values[0])}`;
      for (let i = 1; i < values.length; i++) d += ` H${x(i)} V${y(values[i])}`;
      chart.append(svg("path", { d, fill: "none", stroke: colour, "stroke-width": 2, class: "series" }));
    }
    values.forEach((v, i) => chart.append(svg("circle", { cx: x(i), cy: y(v), r: 2.5, fill: colour })));
  });
  return chart;
}

// ------------------------------------------------------------------ mint

function showMint() {
  const maxBytes = config.max_prompt_bytes;
  const wallet = window.ethereum;
  const prompt = h("textarea", { id: "prompt", rows: 3,
    placeholder: "a lighthouse made of weather, slowly forgetting the sea",
    autocomplete: "off", spellcheck: true });
  const counter = h("span", { id: "prompt-bytes", class: "muted" }, `0 / ${maxBytes} bytes`);
  const promptError = h("p", { id: "prompt-error", class: "error", role: "alert", hidden: true });
  const button = h("button", { id: "mint-button", type: "submit", disabled: !wallet },
    `Mint for ${formatEth(config.mint_price_wei)} ETH`);
  const status = h("p", { id: "wallet-status", class: wallet ? "muted" : "notice" },
    wallet ? "A browser wallet is present: it will ask you to connect and to confirm the transaction." : NO_WALLET);
  const result = h("div", { id: "mint-result", class: "result", hidden: true });

  function check() {
    const size = utf8Bytes(prompt.value).length;
    counter.textContent = `${size} / ${maxBytes} bytes`;
    counter.classList.toggle("over", size > maxBytes);
    let message = "";
    if (size > maxBytes) {
      message = `Your prompt is ${size} bytes of UTF-8; the canvas takes at most ${maxBytes}. `
        + "Shorten it (accented letters take 2 bytes, most emoji 4).";
    }
    promptError.textContent = message;
    promptError.hidden = !message;
    button.disabled = !wallet || size > maxBytes;
    return !message;
  }
  prompt.addEventListener("input", check);

  function report(...children) {
    result.hidden = false;
    result.replaceChildren(...children);
  }

  async function mint(event) {
    event.preventDefault();
    if (!check()) return;
    if (!prompt.value.trim()) {
      promptError.textContent = "Write a prompt first: what is the artwork of?";
      promptError.hidden = false;
      return;
    }
    button.disabled = true;
    try {
      report(h("p", {}, "Waiting for your wallet…"));
      const [from] = await wallet.request({ method: "eth_requestAccounts" });
      if (!from) throw new Error("the wallet gave no account");
      const chainId = Number(await wallet.request({ method: "eth_chainId" }));
      if (chainId !== config.chain_id) {
        throw new Error(`your wallet is on chain ${chainId}; this canvas is on chain ${config.chain_id}. `
          + "Switch networks in the wallet and try again.");
      }
      const tx = await wallet.request({ method: "eth_sendTransaction", params: [{
        from, to: config.canvas, value: `0x${BigInt(config.mint_price_wei).toString(16)}`,
        data: encodeMint(config.mint_selector, prompt.value),
      }] });
      const line = h("p", { id: "mint-status" }, "Sent; waiting for it to be mined…");
      report(h("p", {}, "Transaction ", h("code", { id: "tx-hash", class: "mono" }, tx), " from ",
        h("span", { class: "mono", title: from }, short(from))), line);
      const receipt = await waitForReceipt(wallet, tx);
      if (!receipt) {
        line.textContent = "Not mined yet: check your wallet's activity.";
      } else if (receipt.status !== "0x1") {
        line.textContent = "The transaction failed on-chain (reverted): nothing was minted.";
      } else {
        const log = receipt.logs.find((l) => l.address.toLowerCase() === config.canvas.toLowerCase()
          && l.topics[0] === config.minted_topic);
        const id = log ? BigInt(log.topics[1]).toString() : "?";
        line.replaceChildren(`Minted token #${id}. Its first image appears once the renderer has committed it: `,
          h("a", { href: `#/token/${id}`, id: "minted-link" }, `see #${id}`), ".");
        prompt.value = "";
        check();
      }
    } catch (error) {
      const message = error && error.code === 4001 ? "You rejected the request in your wallet: nothing was sent."
        : `Could not mint: ${error.message || error}`;
      report(h("p", { class: "error", role: "alert" }, message));
    } finally {
      button.disabled = !wallet || !check();
    }
  }

  setView(h("section", { class: "mint" },
    h("h1", {}, "Mint an artwork"),
    h("p", { class: "muted" }, `A mint costs ${formatEth(config.mint_price_wei)} ETH. Your address colours the palette: `
      + "the same prompt minted by two wallets gives two colourings."),
    h("form", { id: "mint-form", onsubmit: mint, novalidate: true },
      h("label", { for: "prompt" }, "Prompt"),
      prompt,
      h("div", { class: "row" }, counter),
      promptError,
      status,
      button),
    result));
}

async function waitForReceipt(wallet, tx, seconds = 120) {
  for (let i = 0; i < seconds; i++) {
    const receipt = await wallet.request({ method: "eth_getTransactionReceipt", params: [tx] });
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

// ------------------------------------------------------------------ routing

async function route() {
  const hash = location.hash || "#/";
  let match;
  const section = hash.startsWith("#/mint") ? "mint" : hash.startsWith("#/auctions") ? "auctions" : "grid";
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === section);
  }
  try {
    if (!config) {
      config = await api("/api/config");
      document.getElementById("chain").textContent = `chain ${config.chain_id} · ${short(config.canvas)}`;
      document.getElementById("chain").title = config.canvas;
    }
    if ((match = hash.match(/^#\/token\/(\d+)$/))) await showToken(Number(match[1]));
    else if (hash === "#/mint") showMint();
    else if (hash === "#/auctions") await showAuctions();
    else if ((match = hash.match(/^#\/page\/(\d+)$/))) await showGrid(Number(match[1]));
    else await showGrid(0);
    document.body.dataset.ready = hash;
  } catch (error) {
    showError(error);
    document.body.dataset.ready = hash;
  }
}

window.addEventListener("hashchange", route);
route();
