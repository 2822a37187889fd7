"""Development tooling, not the product: local nodes (Anvil, js-ipfs), the demo, the benchmarks,
the tiny diffusion model tests build, and the pytest plugin that sets a checkout's environment."""
