"""Verifies a podproof attestation with implementations that are not podproof's.

    python verify_attestation.py DIR PUBLIC_KEY_PEM

- securesystemslib: loads the public key (SSlibKey.from_crypto, which also
  computes the key id), reads the DSSE envelope and verifies its signature over
  the pre-authentication encoding (dsse.Envelope.verify);
- in-toto: loads the file as in-toto metadata (Metadata.load, which takes a DSSE
  envelope of payload type application/vnd.in-toto+json) and verifies it with
  the key (Envelope.verify_signature);
- hashlib: checks every subject of the Statement against the file of that name
  and that the directory holds no other file but podproof's manifest.

Prints "ok N" and exits 0, or prints what failed and exits 1.
"""

import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from in_toto.models.metadata import Envelope as InTotoEnvelope
from in_toto.models.metadata import Metadata
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

ATTESTATION = "podproof.intoto.jsonl"
MANIFEST = ".podproof-manifest"


def check(directory, public_key):
    with open(public_key, "rb") as f:
        key = SSlibKey.from_crypto(load_pem_public_key(f.read()))
    path = os.path.join(directory, ATTESTATION)
    with open(path, "rb") as f:
        data = json.loads(f.read())
    envelope = Envelope.from_dict(data)
    envelope.verify([key], 1)

    metadata = Metadata.load(path)
    if not isinstance(metadata, InTotoEnvelope):
        raise ValueError("in-toto does not read it as a DSSE envelope")
    metadata.verify_signature(dict(key.to_dict(), keyid=key.keyid))

    statement = json.loads(envelope.payload)
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        raise ValueError(f"not an in-toto Statement v1: {statement.get('_type')}")
    if statement.get("predicateType") != "https://podproof.dev/attestation/promotion/v1":
        raise ValueError(f"unexpected predicate type {statement.get('predicateType')}")
    names = set()
    for subject in statement["subject"]:
        name = subject["name"]
        names.add(name)
        with open(os.path.join(directory, name), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != subject["digest"]["sha256"]:
            raise ValueError(f"{name}: sha256 {digest}, attested {subject['digest']['sha256']}")
    for root, _dirs, files in os.walk(directory):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), directory)
            if rel not in names and rel not in (ATTESTATION, MANIFEST):
                raise ValueError(f"{rel} is not attested")
    return len(names)


def main():
    try:
        print("ok", check(sys.argv[1], sys.argv[2]))
    except Exception as e:  # every failure is a verdict, not a crash
        print(f"failed: {type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
