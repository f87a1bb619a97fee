"""A job's history from any Solana RPC endpoint, decoded with AKE's Anchor IDL.

    pip install anchorpy3==0.4.5
    python3 job_events.py http://127.0.0.1:8899 idl/ake_market.json <JOB>

Prints one JSON object per event, oldest first. AKE emits its events with
`emit_cpi!`: each is an inner instruction of the market program whose data
is Anchor's event tag, then the event (discriminator + Borsh), so they are
read from `getTransaction`, not from the logs, and only from transactions
that succeeded: a failed one can carry an event's bytes that a hostile
program faked in a CPI that then failed.
"""

import asyncio
import json
import sys

from anchorpy import Idl, Program, Provider, Wallet
from based58 import b58decode
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

EVENT_IX_TAG = bytes.fromhex("e445a52e51cb9a1d")  # Anchor's EVENT_IX_TAG, 0x1d9acb512ea545e4 little-endian


def plain(value):
    """Event fields as JSON: keys as base58, enums by name."""
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, (bytes, list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "__dict__"):
        fields = getattr(value, "__dataclass_fields__", None) or vars(value)
        return {k: plain(getattr(value, k)) for k in fields} or type(value).__name__
    return value


async def events(url, idl_path, job):
    raw = open(idl_path).read()
    program_id = Pubkey.from_string(json.loads(raw)["address"])
    async with AsyncClient(url) as client:
        program = Program(Idl.from_json(raw), program_id, Provider(client, Wallet.dummy()))
        signatures = (await client.get_signatures_for_address(Pubkey.from_string(job))).value
        for signature in reversed(signatures):  # newest first on the wire
            if signature.err is not None:
                continue  # a failed transaction's inner instructions prove nothing
            # The crank settles through the market's lookup table: v0 transactions.
            tx = (
                await client.get_transaction(
                    signature.signature, encoding="json", max_supported_transaction_version=0
                )
            ).value
            meta = tx and tx.transaction.meta
            if meta is None or meta.err is not None:
                continue
            keys = list(tx.transaction.transaction.message.account_keys)
            if meta.loaded_addresses is not None:  # what the lookup tables loaded
                keys += list(meta.loaded_addresses.writable) + list(meta.loaded_addresses.readonly)
            for inner in meta.inner_instructions or []:
                for ix in inner.instructions:
                    data = bytes(b58decode(ix.data.encode()))
                    if keys[ix.program_id_index] == program_id and data.startswith(EVENT_IX_TAG):
                        event = program.coder.events.parse(data[len(EVENT_IX_TAG):])
                        print(json.dumps({"name": event.name, **plain(event.data)}))


if __name__ == "__main__":
    asyncio.run(events(*sys.argv[1:]))
