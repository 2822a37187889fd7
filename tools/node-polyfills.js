// Loaded with NODE_OPTIONS=--require for js-ipfs on Node 20, which lacks
// Promise.withResolvers (a dependency of js-ipfs calls it).
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
