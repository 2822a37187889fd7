"""Gas of the observer protocol (a relayed observe), a seal, a reveal and setContractURI, on a fresh local
deployment: `python -m renderer.devtools.bench_gas scripts/gas_observer.py`."""

from brownie import accounts, chain
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from scripts.deploy import deploy

KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


def main():
    admin, renderer, alice, relayer = accounts[0], accounts[1], accounts[2], accounts[4]
    canvas = deploy(admin, renderer, 10**16, 10**15, 100, 500)
    token = canvas.mint("a" * 56, {"from": alice, "value": 10**16}).return_value
    chain.mine()
    for generation in (0, 1):
        typed = {"types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                            {"name": "chainId", "type": "uint256"},
                                            {"name": "verifyingContract", "type": "address"}],
                           "Observe": [{"name": "tokenId", "type": "uint256"}, {"name": "generation", "type": "uint64"}]},
                 "primaryType": "Observe", "domain": {"name": "Chaos Canvas", "version": "1", "chainId": chain.id,
                                                      "verifyingContract": canvas.address},
                 "message": {"tokenId": token, "generation": generation}}
        sig = Account.sign_message(encode_typed_data(full_message=typed), KEY).signature
        tx = canvas.observe(token, generation, sig, {"from": relayer})
        print(f"observe (relayed, generation {generation}): {tx.gas_used}")
        chain.mine()
    salt = keccak(b"s")
    commitment = keccak(encode(["string", "bytes32"], ["a red door opening onto the sea", salt]))
    tx = canvas.seal(token, commitment, chain.time() + 100, {"from": alice})
    print(f"seal: {tx.gas_used}")
    chain.sleep(200)
    chain.mine()
    tx = canvas.reveal(token, "a red door opening onto the sea", salt, {"from": relayer})
    print(f"reveal (31-byte layer prompt): {tx.gas_used}")
    tx = canvas.setContractURI("ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", {"from": admin})
    print(f"setContractURI (66-byte URI): {tx.gas_used}")
