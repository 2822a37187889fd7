"""`chaos gallery`: a read-only web page over one canvas, from the chain and IPFS alone.

- `api.Gallery` answers the page's questions (tokens, a token's generations
  with its sealed layer, the carbon-14 probe of a pixel, the typed data a holder
  signs to observe, the colour pools) as plain dicts; what is addressed by CID
  is cached.
- `pools` reads ColourPools prices, now and at each trade (nothing when the
  canvas has no pools).
- `server` serves the static page, the JSON API and the CID-addressed bytes
  over stdlib HTTP, bound to 127.0.0.1 by default.
"""

from .server import run_gallery, serve_gallery

__all__ = ["run_gallery", "serve_gallery"]
