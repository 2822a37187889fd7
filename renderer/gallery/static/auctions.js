// The Last Frames page (#/auctions): open auctions with their windows, and the frames already sold.
// Uses app.js's helpers (h, api, setView, short, formatEth); app.js routes #/auctions here.
"use strict";

function auctionWindow(a, now) {
  const left = (end) => {
    const s = Math.max(0, end - now);
    return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.ceil(s / 60)} min`;
  };
  if (a.phase === "bidding") return `sealed bids for ${left(a.commit_end)} more, then reveals until ${new Date(a.reveal_end * 1000).toLocaleString()}`;
  if (a.phase === "revealing") return `reveals for ${left(a.reveal_end)} more`;
  return "ready to settle (chaos auction settle)";
}

function frameCard(a, caption) {
  return h("article", { class: "card", "data-auction": a.auction_id },
    h("a", { class: "frame", href: `#/token/${a.token_id}` },
      h("img", { src: `/ipfs/${a.image_cid}`, alt: `Last Frame of #${a.token_id}, generation ${a.generation}`,
        loading: "lazy", "data-cid": a.image_cid })),
    h("div", { class: "caption" },
      h("div", { class: "row" },
        h("span", { class: "id" }, `#${a.token_id} · gen ${a.generation}`),
        h("span", { class: "badge" }, `ended by Phoenix gen ${a.phoenix_generation}`)),
      h("p", { class: "prompt" }, caption),
      h("span", { class: "owner mono", title: a.metadata_cid }, `provenance ${a.metadata_cid.slice(0, 16)}…`)));
}

async function showAuctions() {
  const data = await api("/api/auctions");
  if (!data.auction) {
    setView(h("section", { class: "notice" }, h("h1", {}, "Last Frames"), h("p", {}, data.note)));
    return;
  }
  const open = data.open.map((a) => frameCard(a,
    `Auction ${a.auction_id}: ${a.bids} sealed bid${a.bids === 1 ? "" : "s"}, reserve ${formatEth(a.reserve_wei)} ETH; `
    + auctionWindow(a, data.now)));
  const sold = data.settled.map((a) => frameCard(a, a.sold
    ? `Sold for ${formatEth(a.price_wei)} ETH to ${short(a.owner)}`
    : `No valid bid: kept by the holder ${short(a.owner)}`));
  setView(
    h("section", { class: "intro" },
      h("h1", {}, "Last Frames"),
      h("p", { class: "muted" }, "When the GPU collapses and a render is reborn by Phoenix, the frame it showed just "
        + "before is sold by a sealed-bid auction: commit a hidden bid with ", h("code", {}, "chaos auction bid"),
        ", reveal it with ", h("code", {}, "chaos auction reveal"), " once bidding closes.")),
    h("h2", {}, "Open auctions"),
    open.length ? h("div", { class: "grid", id: "open-auctions" }, open) : h("p", { class: "muted" }, "None open now."),
    h("h2", {}, "Sold Last Frames"),
    sold.length ? h("div", { class: "grid", id: "sold-frames" }, sold) : h("p", { class: "muted" }, "None yet."));
}
